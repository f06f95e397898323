package qdrant

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/indextest"
)

// TestContract runs the Index contract suite against the Qdrant server at
// $QDRANT_ADDR (host:port, gRPC; $QDRANT_API_KEY and $QDRANT_TLS=1 when
// needed), each subtest in a collection of its own, dropped afterwards.
func TestContract(t *testing.T) {
	addr := os.Getenv("QDRANT_ADDR")
	if addr == "" {
		t.Skip("QDRANT_ADDR not set: the Qdrant contract suite needs a Qdrant server; skipped")
	}
	base := Config{Addr: addr, APIKey: os.Getenv("QDRANT_API_KEY"), UseTLS: os.Getenv("QDRANT_TLS") == "1", Dense: indextest.DenseDim}
	host, port, err := splitAddr(addr)
	require.NoError(t, err)
	admin, err := qc.NewClient(&qc.Config{Host: host, Port: port, APIKey: base.APIKey, UseTLS: base.UseTLS, SkipCompatibilityCheck: true})
	require.NoError(t, err)
	defer admin.Close()

	indextest.Run(t, func(t *testing.T) retrieval.Index {
		cfg := base
		cfg.Collection = "longmem_test_" + randomHex(t)
		t.Cleanup(func() {
			// Runs after the suite closed the index.
			require.NoError(t, admin.DeleteCollection(t.Context(), cfg.Collection))
		})
		idx, err := New(t.Context(), cfg)
		require.NoError(t, err)
		return idx
	})

	t.Run("DimensionMismatch", func(t *testing.T) {
		cfg := base
		cfg.Collection = "longmem_test_" + randomHex(t)
		idx, err := New(t.Context(), cfg)
		require.NoError(t, err)
		require.NoError(t, idx.Close())
		defer func() { require.NoError(t, admin.DeleteCollection(t.Context(), cfg.Collection)) }()
		cfg.Dense = indextest.DenseDim + 1
		_, err = New(t.Context(), cfg)
		require.ErrorContains(t, err, "dense dimension mismatch")
	})
}

func randomHex(t *testing.T) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPointID(t *testing.T) {
	id := pointID("tenant\x1fconv", 42)
	require.Regexp(t, uuidV5, id)
	require.Equal(t, id, pointID("tenant\x1fconv", 42), "deterministic")

	seen := map[string]string{}
	for _, c := range []struct {
		conv string
		seq  int64
	}{
		{"a", 12}, {"a1", 2}, {"a", 1}, {"b", 12}, {"", 0}, {"", 1}, {"a", -1},
		{"a\x00", 0}, {"a", 0}, {"tenant\x1fconv", 42}, {"tenant", 42},
	} {
		id := pointID(c.conv, c.seq)
		require.Regexp(t, uuidV5, id)
		key := fmt.Sprintf("%q/%d", c.conv, c.seq)
		require.NotContains(t, seen, id, "%s collides with %s", key, seen[id])
		seen[id] = key
	}
	// Fixed forever: changing it orphans every stored point.
	require.Equal(t, "5f14c773-0026-51ff-b782-f4cbc4f593fd", pointID("conv", 1))
}

func TestBM25Values(t *testing.T) {
	terms := []retrieval.TermFreq{{ID: 3, Count: 1}, {ID: 7, Count: 0}, {ID: 9, Count: 4}}
	ids, vals := bm25Values(terms, 12, 24)
	require.Equal(t, []uint32{3, 9}, ids, "zero counts are dropped")
	norm := 1.2 * (1 - 0.75 + 0.75*12.0/24)
	require.InDelta(t, 1*2.2/(1+norm), vals[0], 1e-6)
	require.InDelta(t, 4*2.2/(4+norm), vals[1], 1e-6)

	// At the average length a single occurrence weighs exactly 1.
	_, vals = bm25Values([]retrieval.TermFreq{{ID: 1, Count: 1}}, 24, 24)
	require.InDelta(t, 1, vals[0], 1e-6)
}

func fullDoc() retrieval.Doc {
	return retrieval.Doc{
		Seq:       7,
		Role:      "assistant",
		Name:      "Mira",
		Content:   "Ünïcode ✓ 你好\nline two",
		Caption:   "a cat on a mat",
		CreatedAt: time.Date(2023, time.December, 31, 23, 59, 58, 123456789, time.FixedZone("X", 3600)),
		Tokens:    42,
		Dense:     []float32{0.6, 0.8, 0},
		Terms:     []retrieval.TermFreq{{ID: 3, Count: 1}, {ID: 17, Count: 4}, {ID: math.MaxUint32, Count: 2}},
		Length:    7,
	}
}

func TestBuildPointsRoundTrip(t *testing.T) {
	full := fullDoc()
	bare := retrieval.Doc{Seq: 8, Role: "user"}
	points, err := buildPoints("t\x1fc", []retrieval.Doc{full, bare}, 3, 24)
	require.NoError(t, err)
	require.Len(t, points, 2)

	p := points[0]
	require.Equal(t, pointID("t\x1fc", 7), p.GetId().GetUuid())
	require.Equal(t, "t\x1fc", p.GetPayload()[keyConv].GetStringValue())
	require.Equal(t, int64(7), p.GetPayload()[keySeq].GetIntegerValue())

	vecs := p.GetVectors().GetVectors().GetVectors()
	require.Equal(t, []float32{0.6, 0.8, 0}, vecs[denseVector].GetDense().GetData())
	sparse := vecs[sparseVector].GetSparse()
	wantIDs, wantVals := bm25Values(full.Terms, full.Length, 24)
	require.Equal(t, wantIDs, sparse.GetIndices())
	require.Equal(t, wantVals, sparse.GetValues())
	require.Equal(t, []uint32{3, 17, math.MaxUint32}, sparse.GetIndices())

	got, err := docFromPayload(p.GetPayload(), []float32{0.6, 0.8, 0})
	require.NoError(t, err)
	want := full
	want.CreatedAt = full.CreatedAt.UTC()
	require.Equal(t, want, got)

	bareVecs := points[1].GetVectors().GetVectors().GetVectors()
	require.Empty(t, bareVecs, "a doc without vector or terms has neither")
	got, err = docFromPayload(points[1].GetPayload(), nil)
	require.NoError(t, err)
	require.Equal(t, retrieval.Doc{Seq: 8, Role: "user", CreatedAt: time.Time{}.UTC()}, got)
	require.True(t, got.CreatedAt.IsZero())
	require.Nil(t, got.Terms)
	require.Nil(t, got.Dense)
}

func TestBuildPointsZeroVector(t *testing.T) {
	d := retrieval.Doc{Seq: 1, Dense: []float32{0, 0, 0}, Terms: []retrieval.TermFreq{{ID: 1, Count: 1}}, Length: 1}
	points, err := buildPoints("c", []retrieval.Doc{d}, 3, 24)
	require.NoError(t, err)
	vecs := points[0].GetVectors().GetVectors().GetVectors()
	require.NotContains(t, vecs, denseVector, "cosine cannot normalise a zero vector")
	require.Contains(t, vecs, sparseVector)
}

func TestBuildPointsErrors(t *testing.T) {
	d := fullDoc()
	_, err := buildPoints("c", []retrieval.Doc{d}, 0, 24)
	require.ErrorContains(t, err, "no dense dimension")
	_, err = buildPoints("c", []retrieval.Doc{d}, 4, 24)
	require.ErrorContains(t, err, "dense dimension 3, collection has 4")
	d.Dense = nil
	d.Terms = []retrieval.TermFreq{{ID: 5, Count: 1}, {ID: 5, Count: 1}}
	_, err = buildPoints("c", []retrieval.Doc{d}, 0, 24)
	require.ErrorContains(t, err, "ascending")
}

func TestDocFromPayloadErrors(t *testing.T) {
	_, err := docFromPayload(map[string]*qc.Value{}, nil)
	require.ErrorContains(t, err, "seq")

	payload := docPayload("c", fullDoc())
	payload[keyTermCounts] = qc.NewValueFromList(qc.NewValueInt(1))
	_, err = docFromPayload(payload, nil)
	require.ErrorContains(t, err, "3 term ids but 1 counts")

	payload = docPayload("c", fullDoc())
	payload[keyCreatedAt] = qc.NewValueString("yesterday")
	_, err = docFromPayload(payload, nil)
	require.ErrorContains(t, err, keyCreatedAt)

	// Integers written as doubles by a JSON client still read.
	payload = docPayload("c", fullDoc())
	payload[keySeq] = qc.NewValueDouble(7)
	d, err := docFromPayload(payload, nil)
	require.NoError(t, err)
	require.Equal(t, int64(7), d.Seq)
}

// conditions flattens a filter's must conditions for inspection.
func conditions(t *testing.T, f *qc.Filter) (conv string, maxSeq *float64) {
	t.Helper()
	require.Empty(t, f.GetShould())
	require.Empty(t, f.GetMustNot())
	for _, c := range f.GetMust() {
		fc := c.GetField()
		require.NotNil(t, fc)
		switch fc.GetKey() {
		case keyConv:
			conv = fc.GetMatch().GetKeyword()
		case keySeq:
			r := fc.GetRange()
			require.Nil(t, r.Lt)
			require.Nil(t, r.Gt)
			require.Nil(t, r.Gte)
			maxSeq = r.Lte
		default:
			t.Fatalf("unexpected condition on %q", fc.GetKey())
		}
	}
	return conv, maxSeq
}

func TestTenantFilter(t *testing.T) {
	conv, maxSeq := conditions(t, tenantFilter("t\x1fc", 0))
	require.Equal(t, "t\x1fc", conv)
	require.Nil(t, maxSeq, "MaxSeq 0 does not filter")

	conv, maxSeq = conditions(t, tenantFilter("t\x1fc", 90))
	require.Equal(t, "t\x1fc", conv)
	require.NotNil(t, maxSeq)
	require.Equal(t, 90.0, *maxSeq, "inclusive")
}

func TestBuildSearchRequest(t *testing.T) {
	q := retrieval.Query{
		Terms: []retrieval.QueryTerm{
			{ID: 9, Weight: 1}, {ID: 2, Weight: 0.5}, {ID: 9, Weight: 0.25}, {ID: 4, Weight: 0}, {ID: 5, Weight: -1},
		},
		Dense:  []float32{0, 1, 0},
		Limit:  40,
		MaxSeq: 120,
	}
	plan, err := buildSearchRequest("coll", "t\x1fc", q, 3)
	require.NoError(t, err)
	require.Len(t, plan.queries, 2, "both lists in one batch")
	require.Equal(t, 0, plan.lexical)
	require.Equal(t, 1, plan.dense)

	for i, using := range []string{sparseVector, denseVector} {
		qp := plan.queries[i]
		require.Equal(t, "coll", qp.GetCollectionName())
		require.Equal(t, using, qp.GetUsing())
		require.Equal(t, uint64(40), qp.GetLimit())
		require.Equal(t, []string{keySeq}, qp.GetWithPayload().GetInclude().GetFields())
		require.False(t, qp.GetWithVectors().GetEnable())
		require.Empty(t, qp.GetPrefetch())
		conv, maxSeq := conditions(t, qp.GetFilter())
		require.Equal(t, "t\x1fc", conv)
		require.Equal(t, 120.0, *maxSeq)
	}
	sparse := plan.queries[0].GetQuery().GetNearest().GetSparse()
	require.Equal(t, []uint32{2, 9}, sparse.GetIndices(), "ascending, unique, positive weights only")
	require.Equal(t, []float32{0.5, 1.25}, sparse.GetValues(), "duplicate terms' weights add up")
	require.Equal(t, []float32{0, 1, 0}, plan.queries[1].GetQuery().GetNearest().GetDense().GetData())

	// Parts are skipped when absent.
	plan, err = buildSearchRequest("coll", "c", retrieval.Query{Terms: q.Terms, Limit: 5}, 3)
	require.NoError(t, err)
	require.Len(t, plan.queries, 1)
	require.Equal(t, 0, plan.lexical)
	require.Equal(t, -1, plan.dense)
	conv, maxSeq := conditions(t, plan.queries[0].GetFilter())
	require.Equal(t, "c", conv)
	require.Nil(t, maxSeq)

	plan, err = buildSearchRequest("coll", "c", retrieval.Query{Terms: []retrieval.QueryTerm{}, Dense: q.Dense, Limit: 5}, 3)
	require.NoError(t, err)
	require.Len(t, plan.queries, 1)
	require.Equal(t, -1, plan.lexical)
	require.Equal(t, 0, plan.dense)

	for _, empty := range []retrieval.Query{
		{Terms: q.Terms, Dense: q.Dense},                                          // Limit 0
		{Dense: []float32{0, 0, 0}, Limit: 5},                                     // zero vector
		{Terms: []retrieval.QueryTerm{{ID: 1, Weight: 0}}, Limit: 5},              // no positive weight
		{Terms: nil, Dense: nil, Limit: 5},                                        // nothing asked
		{Terms: []retrieval.QueryTerm{{ID: 1, Weight: -2}}, Dense: nil, Limit: 1}, // negative weight
	} {
		plan, err := buildSearchRequest("coll", "c", empty, 3)
		require.NoError(t, err)
		require.Empty(t, plan.queries, "%+v", empty)
	}

	_, err = buildSearchRequest("coll", "c", retrieval.Query{Dense: []float32{1, 0}, Limit: 5}, 3)
	require.ErrorContains(t, err, "query dense dimension 2, collection has 3")
	_, err = buildSearchRequest("coll", "c", retrieval.Query{Dense: []float32{1, 0}, Limit: 5}, 0)
	require.ErrorContains(t, err, "no dense dimension")
}

func TestHitsFromScored(t *testing.T) {
	pt := func(seq int64, score float32) *qc.ScoredPoint {
		return &qc.ScoredPoint{
			Id:      qc.NewIDUUID(pointID("c", seq)),
			Payload: map[string]*qc.Value{keySeq: qc.NewValueInt(seq)},
			Score:   score,
		}
	}
	hits, err := hitsFromScored([]*qc.ScoredPoint{pt(9, 0.5), pt(3, 0.5), pt(4, 0.75), pt(1, -0.25)})
	require.NoError(t, err)
	require.Equal(t, []retrieval.Hit{{Seq: 4, Score: 0.75}, {Seq: 3, Score: 0.5}, {Seq: 9, Score: 0.5}, {Seq: 1, Score: -0.25}}, hits)

	_, err = hitsFromScored([]*qc.ScoredPoint{{Id: qc.NewIDUUID(pointID("c", 1)), Score: 1}})
	require.ErrorContains(t, err, "seq")
}

func TestRequests(t *testing.T) {
	wm := watermarkRequest("coll", "c")
	require.Equal(t, "coll", wm.GetCollectionName())
	require.Equal(t, uint32(1), wm.GetLimit())
	require.Equal(t, keySeq, wm.GetOrderBy().GetKey())
	require.Equal(t, qc.Direction_Desc, wm.GetOrderBy().GetDirection())
	conv, maxSeq := conditions(t, wm.GetFilter())
	require.Equal(t, "c", conv)
	require.Nil(t, maxSeq)

	g := getRequest("coll", "c", []int64{1, 5}, true)
	require.Equal(t, []string{pointID("c", 1), pointID("c", 5)}, []string{g.GetIds()[0].GetUuid(), g.GetIds()[1].GetUuid()})
	require.True(t, g.GetWithPayload().GetEnable())
	require.Equal(t, []string{denseVector}, g.GetWithVectors().GetInclude().GetNames())
	g = getRequest("coll", "c", []int64{1}, false)
	require.False(t, g.GetWithVectors().GetEnable(), "no vectors unless asked")

	del := deleteSeqsRequest("coll", "c", []int64{2})
	require.True(t, del.GetWait())
	require.Equal(t, pointID("c", 2), del.GetPoints().GetPoints().GetIds()[0].GetUuid())

	delConv := deleteConversationRequest("coll", "c")
	require.True(t, delConv.GetWait())
	conv, maxSeq = conditions(t, delConv.GetPoints().GetFilter())
	require.Equal(t, "c", conv)
	require.Nil(t, maxSeq)

	idxs := fieldIndexRequests("coll")
	require.Len(t, idxs, 2)
	require.Equal(t, keyConv, idxs[0].GetFieldName())
	require.Equal(t, qc.FieldType_FieldTypeKeyword, idxs[0].GetFieldType())
	require.True(t, idxs[0].GetFieldIndexParams().GetKeywordIndexParams().GetIsTenant())
	require.Equal(t, keySeq, idxs[1].GetFieldName())
	require.Equal(t, qc.FieldType_FieldTypeInteger, idxs[1].GetFieldType())
	require.True(t, idxs[1].GetFieldIndexParams().GetIntegerIndexParams().GetRange())
}

func TestCollectionSchema(t *testing.T) {
	info := func(req *qc.CreateCollection) *qc.CollectionInfo {
		return &qc.CollectionInfo{Config: &qc.CollectionConfig{Params: &qc.CollectionParams{
			VectorsConfig:       req.VectorsConfig,
			SparseVectorsConfig: req.SparseVectorsConfig,
		}}}
	}
	withDense := createCollectionRequest("coll", 8)
	require.Equal(t, "coll", withDense.GetCollectionName())
	dense := withDense.GetVectorsConfig().GetParamsMap().GetMap()[denseVector]
	require.Equal(t, uint64(8), dense.GetSize())
	require.Equal(t, qc.Distance_Cosine, dense.GetDistance())
	require.Equal(t, qc.Modifier_Idf, withDense.GetSparseVectorsConfig().GetMap()[sparseVector].GetModifier())
	require.Equal(t, uint64(0), withDense.GetHnswConfig().GetM(), "no global graph: per tenant only")
	require.Equal(t, uint64(16), withDense.GetHnswConfig().GetPayloadM())

	lexOnly := createCollectionRequest("coll", 0)
	require.Nil(t, lexOnly.VectorsConfig)

	require.NoError(t, checkCollection("coll", info(withDense), 8))
	require.NoError(t, checkCollection("coll", info(lexOnly), 0))
	require.ErrorContains(t, checkCollection("coll", info(withDense), 16), "dense dimension mismatch: collection \"coll\" has 8, Dense is 16")
	require.ErrorContains(t, checkCollection("coll", info(withDense), 0), "dense dimension mismatch")
	require.ErrorContains(t, checkCollection("coll", info(lexOnly), 8), "no dense vector")

	noIdf := createCollectionRequest("coll", 8)
	noIdf.SparseVectorsConfig = qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{sparseVector: {}})
	require.ErrorContains(t, checkCollection("coll", info(noIdf), 8), "Idf")
	noSparse := createCollectionRequest("coll", 8)
	noSparse.SparseVectorsConfig = nil
	require.ErrorContains(t, checkCollection("coll", info(noSparse), 8), "no sparse vector")
	unnamed := createCollectionRequest("coll", 8)
	unnamed.VectorsConfig = qc.NewVectorsConfig(&qc.VectorParams{Size: 8, Distance: qc.Distance_Cosine})
	require.ErrorContains(t, checkCollection("coll", info(unnamed), 8), "unnamed")
	dot := createCollectionRequest("coll", 8)
	dot.VectorsConfig.GetParamsMap().GetMap()[denseVector].Distance = qc.Distance_Dot
	require.ErrorContains(t, checkCollection("coll", info(dot), 8), "Cosine")
}

func TestConfig(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	d := Config{}.withDefaults()
	require.Equal(t, DefaultAddr, d.Addr)
	require.Equal(t, DefaultCollection, d.Collection)
	require.Equal(t, DefaultAvgLen, d.AvgLen)

	for _, bad := range []Config{
		{Addr: "localhost"},
		{Addr: "localhost:0"},
		{Addr: "localhost:http"},
		{Addr: ":6334"},
		{Dense: -1},
		{AvgLen: -3},
		{AvgLen: math.NaN()},
	} {
		require.Error(t, bad.Validate(), "%v", bad)
	}

	cfg := Config{Addr: "q.internal:6334", APIKey: "s3cr3t-key", Dense: 384}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "qdrant", cfg)
	for _, printed := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		//lint:ignore S1025 the test checks what each verb prints, %s included
		fmt.Sprintf("%s", cfg), fmt.Sprint(&cfg), logged.String(),
	} {
		require.NotContains(t, printed, "s3cr3t")
		require.Contains(t, printed, "q.internal:6334")
		require.Contains(t, printed, redacted)
	}
	require.NotContains(t, Config{}.String(), redacted, "an absent key is shown absent")
}

func TestNewFailsFast(t *testing.T) {
	_, err := New(t.Context(), Config{Addr: "nonsense"})
	require.Error(t, err)
	_, err = New(t.Context(), Config{Dense: -1})
	require.Error(t, err)
}
