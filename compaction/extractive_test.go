package compaction

import (
	"context"

	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
)

var testTokenizer = sync.OnceValue(func() *retrieval.BPETokenizer {
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	if err != nil {
		panic(err)
	}
	return tok
})

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hi! How are you? I'm fine.", []string{"Hi!", "How are you?", "I'm fine."}},
		{"I paid 3.5 dollars. Dr. Smith agreed.", []string{"I paid 3.5 dollars.", "Dr. Smith agreed."}},
		{"J. R. R. Tolkien wrote it. Really?!", []string{"J. R. R. Tolkien wrote it.", "Really?!"}},
		{`She said "go home." Then left.`, []string{`She said "go home."`, "Then left."}},
		{"Wait... what", []string{"Wait...", "what"}},
		{"first line\nsecond line", []string{"first line", "second line"}},
		{"我今天去了公园。你呢？太好了！", []string{"我今天去了公园。", "你呢？", "太好了！"}},
		{"我养了一只猫!它叫Mimi。", []string{"我养了一只猫!", "它叫Mimi。"}},
		{"  ", nil},
		{"no terminator", []string{"no terminator"}},
		{"I played Chopin, Op. 9 No. 2, my grandmother's favourite. She cried.", []string{"I played Chopin, Op. 9 No. 2, my grandmother's favourite.", "She cried."}},
		{"See vol. 3, p. 12 and fig. 4. Then ch. 2.", []string{"See vol. 3, p. 12 and fig. 4.", "Then ch. 2."}},
		{"I said no. 3 people came anyway.", []string{"I said no. 3 people came anyway."}},
		{"I said no. Then I left.", []string{"I said no.", "Then I left."}},
		{"We met on Oct. 12 at 5 p.m. on Baker St. near Mt. Hood. It rained.", []string{"We met on Oct. 12 at 5 p.m. on Baker St. near Mt. Hood.", "It rained."}},
		{"The price rose 2.5 percent. Sales fell 3.", []string{"The price rose 2.5 percent.", "Sales fell 3."}},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, splitSentences(tc.in), tc.in)
	}
}

func TestScoreFillerAndFacts(t *testing.T) {
	zero := []string{"Thanks!", "Wow, nice pic!", "Haha", "Hi Tom!", "Hey Priya!", "Good to see you!", "That's so cool!", "谢谢！", "好的。", "哈哈哈", "Yes, totally."}
	for _, s := range zero {
		sc, _ := score(s, wordsOf(s), nil)
		require.Zero(t, sc, s)
	}
	// Informative sentences score above chatter, and the kinds of fact
	// rank as expected.
	facts := []string{
		"I joined a community choir yesterday.",
		"Priya is moving to Lisbon in June.",
		"My daughter turned 7 on 3 March.",
		"I promise I will call you next week.",
		"我下周要去北京出差。",
	}
	chatter, _ := score("That sounds like a lot of fun to do.", wordsOf("That sounds like a lot of fun to do."), nil)
	for _, s := range facts {
		sc, _ := score(s, wordsOf(s), nil)
		require.Greater(t, sc, chatter, s)
	}
	q, _ := score("Did Priya move to Lisbon in June?", wordsOf("Did Priya move to Lisbon in June?"), nil)
	st, _ := score("Priya moved to Lisbon in June.", wordsOf("Priya moved to Lisbon in June."), nil)
	require.Less(t, q, st, "a question scores below the statement")
}

func TestScoreSentenceStartEntity(t *testing.T) {
	ents := map[string]bool{"Tomas": true}
	a, _ := score("Tomas built a cedar canoe.", wordsOf("Tomas built a cedar canoe."), ents)
	b, _ := score("Someone built a cedar canoe.", wordsOf("Someone built a cedar canoe."), ents)
	require.Greater(t, a, b, "a name seen elsewhere counts at the start too")
}

func item(speaker string, day int, content string) Item {
	at := time.Date(2023, 5, day, 13, 56, 0, 0, time.UTC)
	return Item{Speaker: speaker, From: at, To: at, Content: content}
}

var chunk = []Item{
	item("Priya", 8, "Hey Tom! Nice to hear from you! How is everything?"),
	item("Tomas", 8, "Hey Priya! Nice to hear from you too! Busy with the shop and the twins. What about you? Any news?"),
	item("Priya", 8, "I joined a community choir at the library last Tuesday and it was wonderful."),
	item("Tomas", 8, "Oh, that's great, Priya! What made it so good? Did you sing anything fun?"),
	item("Priya", 8, "We sang old sea shanties in four parts! I was so nervous at first and then so glad I went."),
	item("Tomas", 8, "Ha, love that! So nice you found a group like that. How does it feel?"),
	item("Priya", 8, "The choir has made me feel less lonely since the move and given me a reason to practise every evening."),
	item("Tomas", 8, "That's really nice. Good for you. What's next?"),
	item("Priya", 8, "Gonna audition for the winter concert solo, which is kind of terrifying!"),
	item("Tomas", 8, "Wow, Priya! Which song are you going to try? Do you know yet?"),
	item("Priya", 8, "I'm thinking of a slow Irish ballad - my voice sits best low and quiet."),
	item("Tomas", 8, "You'll be brilliant! Your voice always carried across the whole kitchen at parties. Oh, by the way, look at this."),
	item("Priya", 8, "Thanks, Tomas! That's really kind. Wait, is that a boat?"),
	item("Tomas", 8, "Yeah, I built that cedar canoe in my garage last winter! It took four months."),
	item("Priya", 8, "Wow, Tomas! The wood grain is beautiful. Building things looks like a great way to switch off."),
	item("Tomas", 8, "Thanks, Priya! Woodwork is a calm way to keep my hands busy and stop thinking about the shop. It's a great way to unwind on weekends."),
	item("Priya", 8, "Totally agree, Tom. Switching off is important. Well, I'm off to warm up my voice."),
	item("Tomas", 8, "Sure thing, Priya. Rest matters too. I'm off to take the twins to the pool. Speak soon!"),
}

func chunkTokens(tok Tokenizer, items []Item) int {
	n := 0
	for _, it := range items {
		n += tok.Count(it.Content)
	}
	return n
}

func TestExtractiveLevel0(t *testing.T) {
	tok := testTokenizer()
	e := NewExtractive(tok)
	out, err := e.Summarize(context.Background(), Input{Level: 0, Items: chunk, TargetTokens: 256, Language: "en"})
	require.NoError(t, err)
	require.Equal(t, ProducerExtractive, out.Producer)
	total := chunkTokens(tok, chunk)
	require.LessOrEqual(t, tok.Count(out.Content), total/3, "at most a third of the chunk")
	t.Logf("chunk %d tokens → summary %d tokens:\n%s", total, tok.Count(out.Content), out.Content)

	lines := strings.Split(out.Content, "\n")
	require.GreaterOrEqual(t, len(lines), 3)
	for _, l := range lines {
		require.Regexp(t, `^\[8 May 2023\] (Priya|Tomas): \S`, l)
	}
	require.Contains(t, out.Content, "[8 May 2023] Priya: I joined a community choir at the library last Tuesday")
	require.Contains(t, out.Content, "cedar canoe in my garage last winter")
	require.NotContains(t, out.Content, "Thanks, Tomas!")
	require.NotContains(t, out.Content, "Hey Tom!")
	// Chronological: the choir comes before the canoe.
	require.Less(t, strings.Index(out.Content, "community choir"), strings.Index(out.Content, "cedar canoe"))

	again, err := e.Summarize(context.Background(), Input{Level: 0, Items: chunk, TargetTokens: 256})
	require.NoError(t, err)
	require.Equal(t, out, again, "deterministic")
}

func TestExtractiveRespectsTarget(t *testing.T) {
	tok := testTokenizer()
	e := NewExtractive(tok)
	for _, target := range []int{1, 5, 12, 30, 60} {
		out, err := e.Summarize(context.Background(), Input{Level: 0, Items: chunk, TargetTokens: target})
		require.NoError(t, err)
		require.NotEmpty(t, out.Content)
		require.LessOrEqual(t, tok.Count(out.Content), target, "target %d: %q", target, out.Content)
	}
}

// TestExtractiveAtMostAThird checks the rule on random chunks of every
// size, tiny ones included.
func TestExtractiveAtMostAThird(t *testing.T) {
	tok := testTokenizer()
	e := NewExtractive(tok)
	r := rand.New(rand.NewPCG(7, 7))
	for n := 1; n <= 40; n++ {
		items := make([]Item, 0, n)
		for range n {
			items = append(items, chunk[r.IntN(len(chunk))])
		}
		if n%7 == 0 {
			items = []Item{item("A", 1, "Hi!"), item("B", 1, "Thanks!")}[:1+n%2]
		}
		out, err := e.Summarize(context.Background(), Input{Level: 0, Items: items, TargetTokens: 10000})
		require.NoError(t, err)
		require.NotEmpty(t, out.Content)
		total := chunkTokens(tok, items)
		require.LessOrEqual(t, tok.Count(out.Content), max(1, total/3), "chunk of %d turns, %d tokens: %q", len(items), total, out.Content)
		if total > 30 {
			require.NotEqual(t, items[0].Content, out.Content)
		}
	}
}

func TestExtractiveChinese(t *testing.T) {
	tok := testTokenizer()
	e := NewExtractive(tok)
	items := []Item{
		item("小明", 9, "你好！最近怎么样？"),
		item("小红", 9, "挺好的。我上个月搬到了上海，现在在一家医院当护士。"),
		item("小明", 9, "哇，太棒了！"),
		item("小红", 9, "谢谢！我下周要去北京参加我姐姐的婚礼，我答应她会做伴娘。"),
		item("小明", 9, "好的。祝你玩得开心！我最近在学钢琴，每天练习两个小时。"),
		item("小红", 9, "哈哈，加油！"),
		item("小明", 9, "嗯嗯，谢谢你！你那边天气怎么样？这几天这里一直在下雨，感觉整个人都懒洋洋的，不太想出门。"),
		item("小红", 9, "这边也差不多，天天下雨，出门都要带伞，真的有点烦人呢。不过下雨天在家看看书也挺舒服的。"),
	}
	out, err := e.Summarize(context.Background(), Input{Level: 0, Items: items, TargetTokens: 256, Language: "zh"})
	require.NoError(t, err)
	t.Logf("%d tokens → %d:\n%s", chunkTokens(tok, items), tok.Count(out.Content), out.Content)
	require.LessOrEqual(t, tok.Count(out.Content), chunkTokens(tok, items)/3)
	require.Contains(t, out.Content, "[9 May 2023] 小红: 我下周要去北京参加我姐姐的婚礼")
	require.NotContains(t, out.Content, "哈哈")
	require.NotContains(t, out.Content, "谢谢")
}

func TestExtractiveHigherLevel(t *testing.T) {
	tok := testTokenizer()
	e := NewExtractive(tok)
	d := func(day int) time.Time { return time.Date(2023, 5, day, 0, 0, 0, 0, time.UTC) }
	kids := []Item{
		{From: d(8), To: d(8), Content: "[8 May 2023] Priya: I joined a community choir at the library yesterday.\n[8 May 2023] Tomas: I built that cedar canoe last winter! It took four months."},
		{From: d(20), To: d(25), Content: "[20 May 2023] Priya: Thanks!\n[25 May 2023] Tomas: The twins and I are paddling the canoe down the Wye on 2 June."},
		{From: d(27), To: d(28), Content: "Priya told Tomas she had rescued a cat named Pixel. They agreed to meet on Friday."},
	}
	out, err := e.Summarize(context.Background(), Input{Level: 1, Items: kids, TargetTokens: 80})
	require.NoError(t, err)
	t.Logf("%s", out.Content)
	require.LessOrEqual(t, tok.Count(out.Content), 80)
	require.Contains(t, out.Content, "[25 May 2023] Tomas: The twins and I are paddling the canoe down the Wye on 2 June.")
	require.Contains(t, out.Content, "[27 May 2023 – 28 May 2023] Priya told Tomas she had rescued a cat named Pixel.")
	require.NotContains(t, out.Content, "Thanks!")
	require.Less(t, strings.Index(out.Content, "Wye"), strings.Index(out.Content, "Pixel"))
}

func TestSplitPrefix(t *testing.T) {
	tests := []struct{ in, prefix, text string }{
		{"[8 May 2023] Priya: I sang.", "[8 May 2023] Priya:", "I sang."},
		{"[8 May 2023 – 9 May 2023] They met twice.", "[8 May 2023 – 9 May 2023]", "They met twice."},
		{"[9 May 2023] 小红: 我下周要去北京。", "[9 May 2023] 小红:", "我下周要去北京。"},
		{"[9 May 2023] Note that it rained: a lot.", "[9 May 2023]", "Note that it rained: a lot."},
		{"plain prose", "", "plain prose"},
	}
	for _, tc := range tests {
		p, x := splitPrefix(tc.in)
		require.Equal(t, tc.prefix, p, tc.in)
		require.Equal(t, tc.text, x, tc.in)
	}
}

func TestDetectLanguage(t *testing.T) {
	require.Equal(t, "en", DetectLanguage("I went to the park."))
	require.Equal(t, "zh", DetectLanguage("我今天去了公园。Mimi 很好。"))
	require.Equal(t, "", DetectLanguage("12345 !!!"))
	require.Equal(t, "", DetectLanguage("Привет, как дела?"))
}

func BenchmarkExtractiveChunk(b *testing.B) {
	e := NewExtractive(testTokenizer())
	in := Input{Level: 0, Items: chunk, TargetTokens: 256}
	for b.Loop() {
		if _, err := e.Summarize(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// A nameless turn's speaker is written the same in a summary as in a
// recalled excerpt ("assistant:", not "Assistant:").
func TestSpeakerMatchesRecalledExcerpts(t *testing.T) {
	for _, role := range []string{"user", "assistant"} {
		recalled := retrieval.RecallLine(retrieval.Doc{Role: role, Content: "x"})
		require.True(t, strings.HasPrefix(recalled, speakerOf("", role)+": "), "%q vs %q", recalled, speakerOf("", role))
	}
	require.Equal(t, "Ines", speakerOf(" Ines ", "user"))

	// And a summary keeps a numbered work whole.
	e := NewExtractive(testTokenizer())
	items := []Item{
		item("", 6, "I played Chopin's Nocturne Op. 9 No. 2, my grandmother's favourite piece, at the spring recital in the town hall."),
		item("Sam", 6, "Thanks!"),
		item("", 6, "That must have been a lovely evening, and a very brave choice of piece for a first recital in front of so many people."),
		item("", 6, "Haha, yes, it was a bit scary but also really fun, and everyone was very kind and warm to me afterwards, which helped a lot."),
		item("", 6, "Wow, that's great to hear! It sounds like the whole evening went well for you and your family, and they must be proud."),
		item("", 6, "Yeah, totally, it was such a nice night, thanks so much for asking about it, it really means a lot to me, honestly."),
	}
	for i := range items {
		if items[i].Speaker == "" {
			items[i].Speaker = speakerOf("", []string{"user", "assistant"}[i%2])
		}
	}
	out, err := e.Summarize(context.Background(), Input{Level: 0, Items: items, TargetTokens: 200})
	require.NoError(t, err)
	require.Contains(t, out.Content, "user: I played Chopin's Nocturne Op. 9 No. 2, my grandmother's favourite piece", out.Content)
	require.NotContains(t, out.Content, "Assistant:")
}
