package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JSONL is longmem's own replay format: one conversation per file, one
// JSON object per line, each with exactly one key:
//
//	{"conversation":{"id":"demo"}}                                   optional, first line
//	{"turn":{"speaker":"Alice","content":"…","time":"2024-03-03T09:15:00Z","role":"user"}}
//	{"probe":{"question":"…","answer":"…","evidence":[0,2],"category":"facts"}}
//
// Turns are numbered from 0 in file order; a probe's evidence lists the
// indices of the turns that hold its answer. Every probe is asked after
// the last turn. time (RFC 3339) is optional and must not go back; role
// is user or assistant (default: the first speaker is the user, the
// others the assistant). Blank lines and lines starting with // are
// skipped. Unknown keys are errors.
type jsonlLine struct {
	Conversation *struct {
		ID string `json:"id"`
	} `json:"conversation"`
	Turn *struct {
		Speaker string `json:"speaker"`
		Role    string `json:"role"`
		Content string `json:"content"`
		Time    string `json:"time"`
	} `json:"turn"`
	Probe *struct {
		Question string `json:"question"`
		Answer   string `json:"answer"`
		Evidence []int  `json:"evidence"`
		Category string `json:"category"`
	} `json:"probe"`
}

// jsonlSessionGap starts a new session (for --haystack) between two turns
// this far apart.
const jsonlSessionGap = 4 * time.Hour

// LoadJSONL reads conversations in the JSONL format: path is one file or a
// directory whose *.jsonl files are read in name order. Errors name the
// file and line.
func LoadJSONL(path string) ([]Conversation, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if st.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*.jsonl")); err != nil {
			return nil, err
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("jsonl: no *.jsonl file in %s", path)
		}
	}
	var out []Conversation
	for _, f := range files {
		c, err := loadJSONLFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func loadJSONLFile(path string) (Conversation, error) {
	f, err := os.Open(path)
	if err != nil {
		return Conversation{}, err
	}
	defer f.Close()
	c := Conversation{ID: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var (
		firstSpeaker string
		last         time.Time
		session      int
	)
	lineNo := 0
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", path, lineNo, fmt.Sprintf(format, a...))
	}
	for sc.Scan() {
		lineNo++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 || bytes.HasPrefix(raw, []byte("//")) {
			continue
		}
		var l jsonlLine
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return c, fail("%v", err)
		}
		if dec.More() {
			return c, fail("one JSON object per line")
		}
		keys := 0
		for _, set := range []bool{l.Conversation != nil, l.Turn != nil, l.Probe != nil} {
			if set {
				keys++
			}
		}
		if keys != 1 {
			return c, fail(`want exactly one of "conversation", "turn" or "probe"`)
		}
		switch {
		case l.Conversation != nil:
			if len(c.Turns) > 0 || len(c.Questions) > 0 {
				return c, fail(`"conversation" must come before every turn and probe`)
			}
			if strings.TrimSpace(l.Conversation.ID) != "" {
				c.ID = strings.TrimSpace(l.Conversation.ID)
			}
		case l.Turn != nil:
			t := l.Turn
			if len(c.Questions) > 0 {
				return c, fail("turn after a probe: probes are asked after the last turn, so they come last")
			}
			if strings.TrimSpace(t.Content) == "" {
				return c, fail("turn.content must not be empty")
			}
			if firstSpeaker == "" {
				firstSpeaker = t.Speaker
			}
			role := t.Role
			switch role {
			case "":
				role = "assistant"
				if t.Speaker == firstSpeaker {
					role = "user"
				}
			case "user", "assistant":
			default:
				return c, fail("turn.role %q: want user or assistant", t.Role)
			}
			var at time.Time
			if t.Time != "" {
				if at, err = time.Parse(time.RFC3339, t.Time); err != nil {
					return c, fail("turn.time %q: want RFC 3339, e.g. 2024-03-03T09:15:00Z", t.Time)
				}
				if at.Before(last) {
					return c, fail("turn.time %s goes back before the previous turn's %s", t.Time, last.Format(time.RFC3339))
				}
				if !last.IsZero() && at.Sub(last) > jsonlSessionGap {
					session++
				}
				last = at
			}
			c.Turns = append(c.Turns, Turn{Ref: strconv.Itoa(len(c.Turns)), Role: role, Name: t.Speaker,
				Content: t.Content, CreatedAt: at.UTC(), Session: session})
		case l.Probe != nil:
			p := l.Probe
			if strings.TrimSpace(p.Question) == "" {
				return c, fail("probe.question must not be empty")
			}
			if len(p.Evidence) == 0 {
				return c, fail("probe.evidence must list at least one turn index")
			}
			q := Question{Text: p.Question, Answer: p.Answer, Category: p.Category}
			for i, e := range p.Evidence {
				if e < 0 || e >= len(c.Turns) {
					return c, fail("probe.evidence[%d]: turn %d does not exist (turns are numbered 0 to %d)", i, e, len(c.Turns)-1)
				}
				q.Evidence = append(q.Evidence, strconv.Itoa(e))
			}
			c.Questions = append(c.Questions, q)
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("%s:%d: %w", path, lineNo+1, err)
	}
	if len(c.Turns) == 0 {
		return c, errors.New(path + ": no turn")
	}
	return c, nil
}
