package llm

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// maxSSELine caps one line of an event stream, in bytes; a chat chunk is
// far smaller.
const maxSSELine = 1 << 20

// errLineTooLong: a stream line exceeded maxSSELine.
var errLineTooLong = errors.New("event stream line too long")

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	Event string // the "event:" field, "" for the default "message"
	Data  string // the "data:" lines joined with "\n"
}

// sseReader reads Server-Sent Events (the text/event-stream format of the
// HTML standard): lines ending in "\n" or "\r\n", "field: value" with one
// optional space after the colon, comment lines starting with ':', data
// lines joined with "\n", an event dispatched at a blank line. Leniencies:
// a last line without a line ending is a line, and an event pending at the
// end of the stream is dispatched. A bare "\r" does not end a line. Not
// safe for concurrent use.
type sseReader struct {
	r       *bufio.Reader
	data    strings.Builder
	hasData bool
	event   string
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// Next returns the next event with data. It returns io.EOF at the end of a
// stream, errLineTooLong for an oversized line, or the read error.
func (s *sseReader) Next() (sseEvent, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && s.hasData {
				return s.dispatch(), nil
			}
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if s.hasData {
				return s.dispatch(), nil
			}
			s.event = ""
			continue
		}
		if line[0] == ':' {
			continue // comment, e.g. a keep-alive ": ping"
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte{' '})
		}
		switch string(field) {
		case "data":
			if s.hasData {
				s.data.WriteByte('\n')
			}
			s.data.Write(value)
			s.hasData = true
		case "event":
			s.event = string(value)
		}
		// "id", "retry" and unknown fields are ignored.
	}
}

func (s *sseReader) dispatch() sseEvent {
	ev := sseEvent{Event: s.event, Data: s.data.String()}
	s.data.Reset()
	s.hasData = false
	s.event = ""
	return ev
}

// readLine returns the next line without its ending. A last line without
// an ending is returned with a nil error; io.EOF comes after it.
func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(line)+len(frag) > maxSSELine {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			return nil, err
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		return line, nil
	}
}
