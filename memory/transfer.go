package memory

import (
	"context"
	"fmt"
	"io"
)

// Backuper is the optional ability of a Store to write a consistent copy
// of itself while it serves: appends and reads go on meanwhile, and the
// copy holds exactly what was committed when it began.
type Backuper interface {
	// Backup writes the copy to w and returns how many bytes it wrote.
	// For the embedded store the copy is a bbolt file that the store
	// opens as its data file (longmem restore).
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// TurnImporter is the optional ability of a Store to take turns with the
// seqs they already have: what moving a conversation to another store
// (longmem import) needs to keep its seqs, gaps of forgotten turns
// included. Callers check for it by type assertion.
type TurnImporter interface {
	// ImportTurns stores those of turns (ascending by Seq) whose Seq is
	// above the conversation's LastSeq, then raises LastSeq to lastSeq
	// when it is higher (the source's last turns may have been
	// forgotten). Turns at or below LastSeq are skipped, so importing the
	// same turns again (a resumed import) writes nothing. It returns how
	// many turns it stored. Turns must pass ValidateTurns (but may be
	// empty), carry seqs strictly ascending in 1..lastSeq, and keep their
	// CreatedAt; else ErrInvalid and nothing changes.
	ImportTurns(ctx context.Context, tenant, id string, turns []Turn, lastSeq int64) (int, error)
}

// ValidateImport checks turns and lastSeq as TurnImporter requires.
func ValidateImport(turns []Turn, lastSeq int64) error {
	if len(turns) > 0 {
		if err := ValidateTurns(turns); err != nil {
			return err
		}
	}
	prev := int64(0)
	for i, t := range turns {
		if t.Seq <= prev {
			return Invalid(fmt.Sprintf("turns[%d].seq", i), "%d is not above the previous seq %d", t.Seq, prev)
		}
		if t.CreatedAt.IsZero() {
			return Invalid(fmt.Sprintf("turns[%d].created_at", i), "must be set")
		}
		prev = t.Seq
	}
	if lastSeq < prev {
		return Invalid("last_seq", "%d is below the last turn's seq %d", lastSeq, prev)
	}
	return nil
}
