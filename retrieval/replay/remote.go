package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Client replays through a running longmem's REST API: it creates each
// conversation, appends its turns in batches, compacts it (POST
// /compact, when the server has it) and asks POST /context per question.
// It is a Loader and an Assembler. Safe for concurrent use.
type Client struct {
	base  string
	key   string
	http  *http.Client
	batch int
	// Warn receives one line when the server cannot compact (nil: none).
	Warn func(string)
}

// NewClient returns a client of the longmem at baseURL (e.g.
// http://127.0.0.1:8080), with API key key ("" for none). hc nil uses a
// client with a 2-minute timeout.
func NewClient(baseURL, key string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("replay: server URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), key: key, http: hc, batch: 200}, nil
}

var (
	_ Loader    = (*Client)(nil)
	_ Assembler = (*Client)(nil)
)

// apiError is the server's {"error":{code,message}}.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type remoteTurn struct {
	Role      string `json:"role"`
	Name      string `json:"name,omitempty"`
	Content   string `json:"content"`
	CreatedAt string `json:"created_at,omitempty"`
}

// Load implements Loader. The server must assign the seqs the local store
// did (1..len(turns)), or Load fails: evidence is checked by seq.
func (c *Client) Load(ctx context.Context, id string, turns []memory.Turn, compact bool) error {
	if err := c.do(ctx, http.MethodPost, "/v1/conversations", map[string]any{"id": id}, nil); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	path := "/v1/conversations/" + url.PathEscape(id)
	for i := 0; i < len(turns); i += c.batch {
		chunk := turns[i:min(i+c.batch, len(turns))]
		req := struct {
			Turns []remoteTurn `json:"turns"`
		}{}
		for _, t := range chunk {
			rt := remoteTurn{Role: string(t.Role), Name: t.Name, Content: t.Content}
			if !t.CreatedAt.IsZero() {
				rt.CreatedAt = t.CreatedAt.UTC().Format(time.RFC3339Nano)
			}
			req.Turns = append(req.Turns, rt)
		}
		var resp struct {
			Turns []struct {
				Seq int64 `json:"seq"`
			} `json:"turns"`
		}
		if err := c.do(ctx, http.MethodPost, path+"/turns", req, &resp); err != nil {
			return fmt.Errorf("append to %s: %w", id, err)
		}
		if len(resp.Turns) != len(chunk) || resp.Turns[0].Seq != chunk[0].Seq {
			return fmt.Errorf("append to %s: the server numbered the turns from %v, the replay from %d", id, resp.Turns, chunk[0].Seq)
		}
	}
	if compact {
		err := c.do(ctx, http.MethodPost, path+"/compact", struct{}{}, nil)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed || ae.Status == http.StatusNotImplemented):
			if c.Warn != nil {
				c.Warn("the server does not compact on request (POST /v1/conversations/{id}/compact): its contexts hold the summaries it wrote by itself")
				c.Warn = nil
			}
		case err != nil:
			return fmt.Errorf("compact %s: %w", id, err)
		}
	}
	return nil
}

// Delete implements Loader.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/conversations/"+url.PathEscape(id), nil, nil)
}

// Assemble implements Assembler with POST /context. The server's key
// selects the tenant (req.Tenant is not sent); the server's policy
// applies, so Policy is not sent either; NoSummaries is.
func (c *Client) Assemble(ctx context.Context, req retrieval.Request) (retrieval.Context, error) {
	body := map[string]any{"message": req.Message, "budget_tokens": req.BudgetTokens}
	if req.ExcludeRecent {
		body["exclude_recent"] = true
	}
	if req.NoSummaries {
		body["no_summaries"] = true
	}
	var out retrieval.Context
	if err := c.do(ctx, http.MethodPost, "/v1/conversations/"+url.PathEscape(req.ConversationID)+"/context", body, &out); err != nil {
		return out, fmt.Errorf("context of %s: %w", req.ConversationID, err)
	}
	return out, nil
}
