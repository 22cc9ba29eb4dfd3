package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/roomkeeper/roomkeeper/internal/procs"
)

// workerSpec configures roomkeeper worker processes.
type workerSpec struct {
	natsURL     string
	dataDir     string // DATA_DIR (SQLite file shared by the workers)
	mongoURI    string // MONGO_URI; empty: SQLite
	mongoDB     string
	concurrency int
	logDir      string
}

// workerProc is one `roomkeeper worker` process.
type workerProc struct {
	*procs.Proc
	httpAddr string
}

// startWorker runs `roomkeeper worker` and waits until its /readyz answers
// 200.
func startWorker(t *testing.T, spec workerSpec, name string) *workerProc {
	t.Helper()
	env := append(procs.BaseEnv(),
		"NATS_URL="+spec.natsURL,
		"DATA_DIR="+spec.dataDir,
		"WORKER_CONCURRENCY="+strconv.Itoa(spec.concurrency),
		"LOG_LEVEL=warn",
		"LOG_FORMAT=text",
	)
	if spec.mongoURI != "" {
		env = append(env, "MONGO_URI="+spec.mongoURI, "MONGO_DB="+spec.mongoDB)
	}
	r := procs.StartRole(t, roomkeeperBin, name, spec.logDir, []string{"worker"}, env)
	return &workerProc{Proc: r.Proc(), httpAddr: r.HTTPAddr()}
}

// handled scrapes the worker's /metrics and returns
// roomkeeper_messages_handled_total of create commands by outcome, and
// roomkeeper_redeliveries_total of creates.
func (w *workerProc) handled(ctx context.Context) (map[string]int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.httpAddr+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	outcomes := map[string]int{}
	redelivered := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `type="create"`) || !strings.Contains(line, `kind="command"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "roomkeeper_messages_handled_total{"):
			if o := label(line, "outcome"); o != "" {
				outcomes[o] += int(v)
			}
		case strings.HasPrefix(line, "roomkeeper_redeliveries_total{"):
			redelivered += int(v)
		}
	}
	if len(outcomes) == 0 && redelivered == 0 && !bytes.Contains(b, []byte("roomkeeper_")) {
		return nil, 0, errors.New("no roomkeeper metrics")
	}
	return outcomes, redelivered, sc.Err()
}

func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
