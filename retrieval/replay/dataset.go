// Package replay replays long conversations through the store → index →
// assembler path and measures what the assembled contexts hold: evidence
// recall per question, by category, against baselines run on the same data.
package replay

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Conversation is one dataset conversation, normalised.
type Conversation struct {
	ID        string
	Turns     []Turn
	Questions []Question
}

// Turn is one turn to append. Ref is the dataset's id for it (LoCoMo
// dia_id, MemDaily tid:mid) that questions cite as evidence.
type Turn struct {
	Ref       string
	Role      string
	Name      string
	Content   string
	CreatedAt time.Time
	Session   int // dataset session number (for haystack interleaving)
}

// Question is asked after the last turn.
type Question struct {
	Text     string
	Answer   string
	Category string
	Evidence []string // Refs of the turns that hold the answer
}

// LoadLoCoMo reads a LoCoMo-format file (snap-research/locomo).
func LoadLoCoMo(path string) ([]Conversation, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []struct {
		SampleID     string                     `json:"sample_id"`
		Conversation map[string]json.RawMessage `json:"conversation"`
		QA           []struct {
			Question    string          `json:"question"`
			Answer      json.RawMessage `json:"answer"`
			Adversarial json.RawMessage `json:"adversarial_answer"`
			Evidence    []string        `json:"evidence"`
			Category    int             `json:"category"`
		} `json:"qa"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("locomo %s: %w", path, err)
	}
	var out []Conversation
	for ci, it := range items {
		c := Conversation{ID: it.SampleID}
		if c.ID == "" {
			c.ID = fmt.Sprintf("locomo-%d", ci)
		}
		var speakerA string
		_ = json.Unmarshal(it.Conversation["speaker_a"], &speakerA)
		var sessions []int
		for k := range it.Conversation {
			if n, ok := strings.CutPrefix(k, "session_"); ok && !strings.Contains(n, "_") {
				if i, err := strconv.Atoi(n); err == nil {
					sessions = append(sessions, i)
				}
			}
		}
		slices.Sort(sessions)
		for _, s := range sessions {
			var when string
			_ = json.Unmarshal(it.Conversation[fmt.Sprintf("session_%d_date_time", s)], &when)
			at, err := parseLoCoMoTime(when)
			if err != nil {
				return nil, fmt.Errorf("locomo %s: %s session %d: %w", path, c.ID, s, err)
			}
			var turns []struct {
				Speaker string `json:"speaker"`
				DiaID   string `json:"dia_id"`
				Text    string `json:"text"`
				Caption string `json:"blip_caption"`
			}
			if err := json.Unmarshal(it.Conversation[fmt.Sprintf("session_%d", s)], &turns); err != nil {
				return nil, fmt.Errorf("locomo %s: %s session %d: %w", path, c.ID, s, err)
			}
			for _, t := range turns {
				content := t.Text
				if t.Caption != "" {
					content += " [image: " + t.Caption + "]"
				}
				role := "assistant"
				if t.Speaker == speakerA {
					role = "user"
				}
				c.Turns = append(c.Turns, Turn{Ref: normalizeDiaID(t.DiaID), Role: role, Name: t.Speaker,
					Content: content, CreatedAt: at, Session: s})
			}
		}
		for _, q := range it.QA {
			ans := q.Answer
			if len(ans) == 0 {
				ans = q.Adversarial
			}
			var evidence []string
			for _, e := range q.Evidence {
				for _, part := range strings.FieldsFunc(e, func(r rune) bool { return r == ';' || r == ' ' || r == ',' }) {
					if id := normalizeDiaID(part); id != "" {
						evidence = append(evidence, id)
					}
				}
			}
			c.Questions = append(c.Questions, Question{Text: q.Question, Answer: jsonText(ans),
				Category: strconv.Itoa(q.Category), Evidence: evidence})
		}
		out = append(out, c)
	}
	return out, nil
}

var diaRe = regexp.MustCompile(`^D:?(\d+):0*(\d+)$`)

// normalizeDiaID maps the malformed ids of the dataset (D:11:26, D10:05) to
// the canonical D<session>:<turn>.
func normalizeDiaID(id string) string {
	m := diaRe.FindStringSubmatch(strings.TrimSpace(id))
	if m == nil {
		return ""
	}
	s, _ := strconv.Atoi(m[1])
	t, _ := strconv.Atoi(m[2])
	return fmt.Sprintf("D%d:%d", s, t)
}

func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(raw), `"`)
}

// parseLoCoMoTime parses "1:56 pm on 8 May, 2023".
func parseLoCoMoTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"3:04 pm on 2 January, 2006", "3:04 pm on 2 Jan, 2006", "3:04 PM on 2 January, 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", s)
}

// LoadMemDaily reads a MemDaily (MemSim) file and concatenates its
// trajectories, in order, into one conversation whose questions are all
// asked at the end. Given a directory, it does so for each of its *.json
// files, in name order: one conversation per file (which --haystack can
// then bury among the others).
func LoadMemDaily(path string) ([]Conversation, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		files, err := filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("memdaily %s: no *.json file in the directory", path)
		}
		slices.Sort(files)
		var out []Conversation
		for _, f := range files {
			c, err := loadMemDailyFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	c, err := loadMemDailyFile(path)
	if err != nil {
		return nil, err
	}
	return []Conversation{c}, nil
}

func loadMemDailyFile(path string) (Conversation, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Conversation{}, err
	}
	var trajs []struct {
		TID      int `json:"tid"`
		Messages []struct {
			MID     int    `json:"mid"`
			Message string `json:"message"`
			Time    string `json:"time"`
		} `json:"message_list"`
		Questions []struct {
			Question string `json:"question"`
			Answer   any    `json:"answer"`
			Targets  []int  `json:"target_step_id"`
		} `json:"question_list"`
	}
	if err := json.Unmarshal(raw, &trajs); err != nil {
		return Conversation{}, fmt.Errorf("memdaily %s: %w", path, err)
	}
	name := strings.TrimSuffix(pathBase(path), ".json")
	c := Conversation{ID: "memdaily-" + name}
	for _, tr := range trajs {
		for _, m := range tr.Messages {
			at, err := time.Parse("2006年01月02日", strings.Fields(m.Time + " x")[0])
			if err != nil {
				return Conversation{}, fmt.Errorf("memdaily %s: tid %d mid %d: bad time %q", path, tr.TID, m.MID, m.Time)
			}
			if f := strings.Fields(m.Time); len(f) == 3 {
				if hm, err := time.Parse("15:04", f[2]); err == nil {
					at = at.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
				}
			}
			c.Turns = append(c.Turns, Turn{Ref: fmt.Sprintf("%d:%d", tr.TID, m.MID), Role: "user",
				Content: m.Message, CreatedAt: at.UTC(), Session: tr.TID})
		}
		for _, q := range tr.Questions {
			var ev []string
			for _, t := range q.Targets {
				ev = append(ev, fmt.Sprintf("%d:%d", tr.TID, t))
			}
			c.Questions = append(c.Questions, Question{Text: q.Question, Answer: fmt.Sprint(q.Answer), Category: name, Evidence: ev})
		}
	}
	return c, nil
}

func pathBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Haystack buries each conversation among the sessions of the others until
// it holds at least n turns: their speakers are renamed to the target's
// (first speaker ↔ first speaker), and each foreign session is dated
// between two of the target's sessions, so that dates stay monotonic.
// Foreign sessions are reused in turn when there are too few. Evidence
// refs of the target are unchanged; foreign turns get refs no question
// cites.
func Haystack(convs []Conversation, n int) []Conversation {
	out := make([]Conversation, len(convs))
	for i, target := range convs {
		out[i] = target
		if len(target.Turns) >= n || len(convs) < 2 {
			continue
		}
		tSessions := sessionsOf(target)
		speakers := speakersOf(target)
		var foreign [][]Turn
		for j, other := range convs {
			if j == i {
				continue
			}
			rename := map[string]string{}
			for k, s := range speakersOf(other) {
				if k < len(speakers) {
					rename[s] = speakers[k]
				}
			}
			for _, s := range sessionsOf(other) {
				sess := make([]Turn, len(s))
				for k, t := range s {
					t.Ref = fmt.Sprintf("hay-%d-%s", j, t.Ref)
					if r, ok := rename[t.Name]; ok {
						t.Name = r
					}
					for from, to := range rename {
						t.Content = strings.ReplaceAll(t.Content, from, to)
					}
					sess[k] = t
				}
				foreign = append(foreign, sess)
			}
		}
		total := len(target.Turns)
		var extra [][]Turn
		for k := 0; total < n && len(foreign) > 0; k++ {
			s := foreign[k%len(foreign)]
			extra = append(extra, s)
			total += len(s)
		}
		// Spread the extra sessions evenly between the target's sessions
		// (after its only session when it has one).
		slots := max(len(tSessions)-1, 1)
		buckets := make([][][]Turn, slots)
		for k, s := range extra {
			b := k * slots / max(len(extra), 1)
			buckets[b] = append(buckets[b], s)
		}
		var turns []Turn
		for si, s := range tSessions {
			turns = append(turns, s...)
			if si >= slots {
				continue
			}
			start := s[len(s)-1].CreatedAt
			end := start.Add(24 * time.Hour)
			if si+1 < len(tSessions) {
				end = tSessions[si+1][0].CreatedAt
			}
			for bi, hs := range buckets[si] {
				at := start.Add(end.Sub(start) * time.Duration(bi+1) / time.Duration(len(buckets[si])+1))
				for _, t := range hs {
					t.CreatedAt = at
					turns = append(turns, t)
				}
			}
		}
		out[i].Turns = turns
	}
	return out
}

func sessionsOf(c Conversation) [][]Turn {
	var out [][]Turn
	for i, t := range c.Turns {
		if i == 0 || t.Session != c.Turns[i-1].Session {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], t)
	}
	return out
}

// speakersOf lists the names in order of first appearance.
func speakersOf(c Conversation) []string {
	seen := map[string]int{}
	for i, t := range c.Turns {
		if _, ok := seen[t.Name]; !ok && t.Name != "" {
			seen[t.Name] = i
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool { return seen[names[a]] < seen[names[b]] })
	return names
}
