package deploy_test

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/stretchr/testify/require"
)

// freeAddr is a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// TestMakeRunStopsOnSIGTERM runs `make run` as a user does, waits until it
// serves, sends SIGTERM to make's PID only (as a process supervisor or
// `kill` does) and checks that make exits, that no process of its group
// remains and that both ports are free again.
func TestMakeRunStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs roomkeeper through make")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not on PATH")
	}
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(makeBin, "--no-print-directory", "run")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+t.TempDir(),
		"HTTP_ADDR="+httpAddr,
		"EMBEDDED_NATS_ADDR="+natsAddr,
		"LOG_LEVEL=info",
	)
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A group of its own, so that the test can tell whether any process
	// make started is left, and end them if the test fails.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// The first build may compile everything: minutes on a small machine.
	healthy := false
	for deadline := time.Now().Add(8 * time.Minute); time.Now().Before(deadline) && !healthy; {
		select {
		case err := <-exited:
			t.Fatalf("make run exited before serving: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			healthy = resp.StatusCode == http.StatusOK
			_ = resp.Body.Close()
		}
	}
	require.True(t, healthy, "no /healthz on %s:\n%s", httpAddr, out.String())
	require.Contains(t, out.String(), "compiling bin/roomkeeper", "make run says it is compiling")

	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGTERM))
	sent := time.Now()
	select {
	case err := <-exited:
		// make reports the SIGTERM its child got as an error; what
		// counts is what is left behind.
		t.Logf("make run exited %s after SIGTERM: %v", time.Since(sent).Round(time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatalf("make run still running 30 s after SIGTERM:\n%s", out.String())
	}
	require.Contains(t, out.String(), "stopped", "roomkeeper shut down in order:\n%s", out.String())

	// No process of make's group is left.
	var left error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = syscall.Kill(-pgid, 0); errors.Is(left, syscall.ESRCH) {
			break
		}
	}
	require.ErrorIs(t, left, syscall.ESRCH, "a process make started outlived it:\n%s", out.String())
	for _, addr := range []string{httpAddr, natsAddr} {
		l, err := net.Listen("tcp", addr)
		require.NoError(t, err, "%s still taken after make run stopped", addr)
		_ = l.Close()
	}

	// The binary make built says which commit it is (whatever GOFLAGS
	// says of VCS stamping).
	if head, err := exec.Command("git", "-C", repoRoot(t), "rev-parse", "HEAD").Output(); err == nil {
		v, err := exec.Command(filepath.Join(repoRoot(t), "bin", "roomkeeper"), "--version").Output()
		require.NoError(t, err)
		require.Contains(t, string(v), "(commit "+strings.TrimSpace(string(head)), "bin/roomkeeper --version")
	}
}
