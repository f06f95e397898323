package retrieval

// topicWords maps a word a question uses for a kind of thing ("hobbies",
// "pets") to common words for things of that kind, in English. A message
// asking about the kind then also matches turns that name one of them:
// "What are Tomas's hobbies?" recalls "I signed up for a pottery class".
// General vocabulary, written for persona chats; not derived from any
// benchmark.
var topicWords = map[string][]string{
	"hobby":      {"paint", "painting", "draw", "pottery", "camping", "hike", "hiking", "swim", "running", "marathon", "yoga", "dance", "music", "guitar", "piano", "violin", "sing", "reading", "book", "writing", "garden", "gardening", "cook", "bake", "photography", "travel", "fishing", "bike", "surf", "game", "knit", "sport", "volunteer"},
	"activity":   {"paint", "painting", "pottery", "camping", "hike", "hiking", "swim", "running", "marathon", "yoga", "dance", "music", "concert", "reading", "garden", "cook", "bake", "travel", "bike", "surf", "game", "sport", "volunteer", "class", "workshop", "museum", "park", "beach"},
	"pet":        {"dog", "puppy", "cat", "kitten", "bird", "parrot", "hamster", "rabbit", "horse", "turtle", "snake", "guinea"},
	"animal":     {"dog", "cat", "bird", "horse", "fish", "rabbit"},
	"family":     {"mother", "mom", "father", "dad", "parent", "sister", "brother", "son", "daughter", "kid", "child", "husband", "wife", "grandma", "grandpa", "aunt", "uncle", "cousin"},
	"kid":        {"son", "daughter", "child", "children", "baby"},
	"child":      {"son", "daughter", "kid", "baby"},
	"job":        {"work", "career", "company", "office", "boss", "colleague", "business", "hired", "promotion", "interview", "shift"},
	"career":     {"job", "work", "company", "degree", "hired", "promotion", "business"},
	"food":       {"pizza", "pasta", "cake", "cookie", "bread", "soup", "salad", "chocolate", "dinner", "lunch", "breakfast", "recipe", "restaurant", "dish"},
	"book":       {"novel", "author", "story", "library", "read", "reading"},
	"instrument": {"guitar", "piano", "violin", "drum", "flute", "cello", "saxophone", "ukulele"},
	"sport":      {"running", "marathon", "soccer", "football", "basketball", "tennis", "swim", "yoga", "gym", "hike", "bike", "baseball", "volleyball"},
	"trip":       {"travel", "visit", "vacation", "flight", "beach", "mountain", "road", "camping"},
	"travel":     {"trip", "visit", "vacation", "flight", "country", "city"},
	"event":      {"concert", "festival", "party", "wedding", "parade", "conference", "race", "fair", "show"},
	"art":        {"paint", "painting", "draw", "drawing", "sculpture", "pottery", "museum", "gallery"},
}

// topics returns topicWords with keys and words analysed into terms.
func (a *Analyzer) topics() map[string][]string {
	a.topicsOnce.Do(func() {
		a.topicTerms = map[string][]string{}
		for k, words := range topicWords {
			key := a.Terms(k)
			if len(key) != 1 {
				continue
			}
			seen := map[string]bool{}
			for _, w := range words {
				for _, t := range a.Terms(w) {
					if !seen[t] && t != key[0] {
						seen[t] = true
						a.topicTerms[key[0]] = append(a.topicTerms[key[0]], t)
					}
				}
			}
		}
	})
	return a.topicTerms
}
