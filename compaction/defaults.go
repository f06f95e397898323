package compaction

// WithDefaults is c with every zero field set to its default: the
// configuration in effect, as `longmem serve --print-config` shows it.
func (c Config) WithDefaults() Config { return c.withDefaults() }
