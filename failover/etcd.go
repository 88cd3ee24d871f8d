package failover

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// EtcdLeader reads a leader key from etcd's v3 HTTP gateway (etcd 3.4:
// POST /v3/kv/range), trying each member in turn: the value is the name
// of the member holding the key (Patroni's "<namespace><scope>/leader").
type EtcdLeader struct {
	Endpoints []string // "http://127.0.0.1:2379", ...
	Key       string
	Client    *http.Client
	LeaderKeyWords
}

// EtcdLeader's events are worded as a leader key's.
var _ Describer = (*EtcdLeader)(nil)

// Leader is the key's value, "" when the key does not exist.
func (e *EtcdLeader) Leader(ctx context.Context) (string, error) {
	if len(e.Endpoints) == 0 {
		return "", errors.New("no etcd endpoint")
	}
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	body, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(e.Key))})
	var errs []string
	for _, ep := range e.Endpoints {
		v, err := rangeKey(ctx, client, strings.TrimRight(ep, "/")+"/v3/kv/range", body)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		errs = append(errs, err.Error())
	}
	return "", fmt.Errorf("no etcd member answered: %s", strings.Join(errs, "; "))
}

func rangeKey(ctx context.Context, client *http.Client, url string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(raw)))
	}
	var r struct {
		Kvs []struct {
			Value string `json:"value"`
		} `json:"kvs"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	if len(r.Kvs) == 0 {
		return "", nil
	}
	v, err := base64.StdEncoding.DecodeString(r.Kvs[0].Value)
	if err != nil {
		return "", fmt.Errorf("%s: value: %w", url, err)
	}
	return string(v), nil
}
