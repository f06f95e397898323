package retrieval

// WithDefaults is c with every zero field set to the value the assembler
// uses in its place (budget and rank included): the configuration in
// effect, as `longmem serve --print-config` shows it.
func (c AssemblerConfig) WithDefaults() AssemblerConfig {
	c = c.withDefaults()
	c.Rank = c.Rank.withDefaults()
	return c
}
