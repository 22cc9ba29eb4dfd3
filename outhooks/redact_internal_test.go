package outhooks

import (
	"bytes"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTargetRedacted(t *testing.T) {
	for url, want := range map[string]string{
		"http://127.0.0.1:9/hooks":                     "http://127.0.0.1:9/hooks",
		"https://u:p@127.0.0.1/h":                      "https://u:xxxxx@127.0.0.1/h",
		"https://127.0.0.1/h?token=abc":                "https://127.0.0.1/h?token=xxxxx",
		"https://u:p@127.0.0.1/h?a=1&a=2&token=s3cret": "https://u:xxxxx@127.0.0.1/h?a=xxxxx&token=xxxxx",
		"https://u@127.0.0.1/h":                        "https://u@127.0.0.1/h",
	} {
		require.Equal(t, want, Target{URL: url}.Redacted(), url)
	}
}

// The HTTP client's error quotes the URL (without its password); the
// reason a dead letter keeps must not carry the query's token either.
func TestNetworkErrorReasonIsRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	tg := Target{URL: "http://hookuser:hookpass@" + addr + "/hook?token=s3cret"}
	req, err := http.NewRequest(http.MethodPost, tg.URL, bytes.NewReader(nil))
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err)
	reason := tg.redact(err.Error())
	require.NotContains(t, reason, "hookpass")
	require.NotContains(t, reason, "s3cret")
	require.Contains(t, reason, "hookuser:xxxxx@"+addr+"/hook?token=xxxxx")
}
