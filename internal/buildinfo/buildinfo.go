// Package buildinfo is the version of roomkeeper's binaries (roomkeeper,
// roomctl) and their --version flag. A release sets the version and the
// commit at link time:
//
//	go build -ldflags "-X github.com/roomkeeper/roomkeeper/internal/buildinfo.version=v1.2.0 \
//	  -X github.com/roomkeeper/roomkeeper/internal/buildinfo.commit=$(git rev-parse HEAD)" ./cmd/...
//
// Without them, both come from the build information Go embeds: the
// module's version (a `go install ...@v1.2.0`), and the VCS settings of a
// build in a git checkout (vcs.revision, vcs.modified).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// Set with -ldflags -X at link time (see the package doc).
var (
	version string
	commit  string
)

// Info is what --version prints.
type Info struct {
	// Version is the release version, or "devel" for a build from source.
	Version string
	// Commit is the git revision, with "-dirty" when the checkout had
	// changes; "unknown" when the build recorded none.
	Commit string
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

// Get returns the binary's version: the link-time values where set, else
// the embedded build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuild(bi, version, commit)
}

// fromBuild is Get on bi (nil: none) with the link-time values ver and rev.
func fromBuild(bi *debug.BuildInfo, ver, rev string) Info {
	info := Info{Version: ver, Commit: rev, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					info.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if info.Commit != "" && modified {
				info.Commit += "-dirty"
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is the --version line of the binary name: "roomctl v1.2.0
// (commit 3f2a..., go1.25.1)".
func (i Info) String(name string) string {
	return fmt.Sprintf("%s %s (commit %s, %s)", name, i.Version, i.Commit, i.GoVersion)
}

// Flag is the --version flag of a kong command line: it prints the
// version line on kong's stdout and exits 0, before any other flag or
// argument is checked.
type Flag bool

// BeforeReset prints the version and exits.
func (Flag) BeforeReset(app *kong.Kong) error {
	_, _ = fmt.Fprintln(app.Stdout, Get().String(app.Model.Name))
	app.Exit(0)
	return nil
}
