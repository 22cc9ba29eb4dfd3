package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromBuild(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.25.1",
		Main:      debug.Module{Path: "github.com/roomkeeper/roomkeeper", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "3f2a9c0"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		ver, rev string
		want     Info
	}{
		{"checkout with changes", vcs, "", "", Info{Version: "devel", Commit: "3f2a9c0-dirty", GoVersion: "go1.25.1"}},
		{"release flags win", vcs, "v1.2.0", "abcdef1", Info{Version: "v1.2.0", Commit: "abcdef1", GoVersion: "go1.25.1"}},
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.25.1", Main: debug.Module{Version: "v1.3.0"}}, "", "",
			Info{Version: "v1.3.0", Commit: "unknown", GoVersion: "go1.25.1"}},
	} {
		require.Equal(t, tc.want, fromBuild(tc.bi, tc.ver, tc.rev), tc.name)
	}
	none := fromBuild(nil, "", "")
	require.Equal(t, "devel", none.Version)
	require.NotEmpty(t, none.GoVersion)
	require.Equal(t, "roomctl v1.2.0 (commit abcdef1, go1.25.1)", Info{Version: "v1.2.0", Commit: "abcdef1", GoVersion: "go1.25.1"}.String("roomctl"))
}
