package qdrant

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/longmem/longmem/retrieval"
)

// Names in the collection.
const (
	denseVector  = "dense"   // named dense vector, cosine
	sparseVector = "lexical" // named sparse vector, IDF modifier

	keyConv       = "conversation_id" // keyword, tenant index
	keySeq        = "seq"             // integer, range index (order by, MaxSeq)
	keyRole       = "role"
	keyName       = "name"
	keyContent    = "content"
	keyCaption    = "caption"
	keyCreatedAt  = "created_at" // RFC 3339 with nanoseconds, UTC
	keyTokens     = "tokens"
	keyLineTokens = "line_tokens"
	keyLength     = "length"
	keyTermIDs    = "term_ids"    // ascending, parallel to term_counts
	keyTermCounts = "term_counts" // raw counts (the sparse vector holds BM25 weights)
)

// BM25 parameters of the document side of the sparse vectors; Qdrant's IDF
// modifier supplies ln(1 + (N - df + 0.5)/(df + 0.5)).
const (
	k1 = 1.2
	b  = 0.75
)

// pointNamespace seeds point ids, so that they do not collide with UUIDs
// made for anything else.
var pointNamespace = [16]byte{
	0x6c, 0x6f, 0x6e, 0x67, 0x6d, 0x65, 0x6d, 0x2d, // "longmem-"
	0x74, 0x75, 0x72, 0x6e, 0x73, 0x2d, 0x76, 0x31, // "turns-v1"
}

// pointID is the deterministic point id of (conv, seq): a UUID in the
// version 5 layout over SHA-1(namespace, len(conv), conv, seq).
func pointID(conv string, seq int64) string {
	h := sha1.New()
	h.Write(pointNamespace[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(conv)))
	h.Write(n[:])
	h.Write([]byte(conv))
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	sum := h.Sum(nil)
	sum[6] = sum[6]&0x0f | 0x50 // version 5
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	var buf [36]byte
	hex.Encode(buf[0:8], sum[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], sum[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], sum[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], sum[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], sum[10:16])
	return string(buf[:])
}

func pointIDs(conv string, seqs []int64) []*qc.PointId {
	ids := make([]*qc.PointId, len(seqs))
	for i, seq := range seqs {
		ids[i] = qc.NewIDUUID(pointID(conv, seq))
	}
	return ids
}

// createCollectionRequest describes the collection New creates: the named
// sparse vector (IDF modifier), the named cosine dense vector when dim > 0,
// and HNSW graphs per tenant only (m = 0, payload_m = 16), as Qdrant
// advises for payload-partitioned tenants.
func createCollectionRequest(collection string, dim int) *qc.CreateCollection {
	req := &qc.CreateCollection{
		CollectionName: collection,
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{
			sparseVector: {Modifier: qc.Modifier_Idf.Enum()},
		}),
		HnswConfig: &qc.HnswConfigDiff{M: qc.PtrOf(uint64(0)), PayloadM: qc.PtrOf(uint64(16))},
	}
	if dim > 0 {
		req.VectorsConfig = qc.NewVectorsConfigMap(map[string]*qc.VectorParams{
			denseVector: {Size: uint64(dim), Distance: qc.Distance_Cosine},
		})
	}
	return req
}

// fieldIndexRequests are the payload indexes the Index needs: the tenant
// keyword index on conversation_id and an integer range index on seq.
func fieldIndexRequests(collection string) []*qc.CreateFieldIndexCollection {
	return []*qc.CreateFieldIndexCollection{
		{
			CollectionName: collection,
			Wait:           qc.PtrOf(true),
			FieldName:      keyConv,
			FieldType:      qc.FieldType_FieldTypeKeyword.Enum(),
			FieldIndexParams: qc.NewPayloadIndexParamsKeyword(&qc.KeywordIndexParams{
				IsTenant: qc.PtrOf(true),
			}),
		},
		{
			CollectionName: collection,
			Wait:           qc.PtrOf(true),
			FieldName:      keySeq,
			FieldType:      qc.FieldType_FieldTypeInteger.Enum(),
			FieldIndexParams: qc.NewPayloadIndexParamsInt(&qc.IntegerIndexParams{
				Lookup: qc.PtrOf(true),
				Range:  qc.PtrOf(true),
			}),
		},
	}
}

// checkCollection reports how an existing collection differs from what an
// Index with dense dimension dim needs.
func checkCollection(collection string, info *qc.CollectionInfo, dim int) error {
	params := info.GetConfig().GetParams()
	vc := params.GetVectorsConfig()
	if vc.GetParams() != nil {
		return fmt.Errorf("collection %q has an unnamed vector; longmem needs the named vectors %q and %q", collection, denseVector, sparseVector)
	}
	dense := vc.GetParamsMap().GetMap()[denseVector]
	switch {
	case dense == nil && dim > 0:
		return fmt.Errorf("collection %q has no dense vector %q, but Dense is %d", collection, denseVector, dim)
	case dense != nil && dim == 0:
		return fmt.Errorf("dense dimension mismatch: collection %q has %d, Dense is 0 (no embedder)", collection, dense.GetSize())
	case dense != nil && dense.GetSize() != uint64(dim):
		return fmt.Errorf("dense dimension mismatch: collection %q has %d, Dense is %d", collection, dense.GetSize(), dim)
	case dense != nil && dense.GetDistance() != qc.Distance_Cosine:
		return fmt.Errorf("collection %q: dense vector distance is %s, need Cosine", collection, dense.GetDistance())
	}
	sparse := params.GetSparseVectorsConfig().GetMap()[sparseVector]
	if sparse == nil {
		return fmt.Errorf("collection %q has no sparse vector %q", collection, sparseVector)
	}
	if sparse.GetModifier() != qc.Modifier_Idf {
		return fmt.Errorf("collection %q: sparse vector %q has modifier %s, need Idf", collection, sparseVector, sparse.GetModifier())
	}
	return nil
}

// bm25Values is the document side of BM25 for each term, in order:
// tf*(k1+1)/(tf + k1*(1-b+b*length/avgLen)). Terms with count 0 are dropped.
func bm25Values(terms []retrieval.TermFreq, length int, avgLen float64) ([]uint32, []float32) {
	ids := make([]uint32, 0, len(terms))
	vals := make([]float32, 0, len(terms))
	norm := k1 * (1 - b + b*float64(length)/avgLen)
	for _, t := range terms {
		if t.Count == 0 {
			continue
		}
		tf := float64(t.Count)
		ids = append(ids, t.ID)
		vals = append(vals, float32(tf*(k1+1)/(tf+norm)))
	}
	return ids, vals
}

// buildPoints turns docs into points of conv. dim is the collection's dense
// dimension (0: none); a doc with a vector of another dimension is an error.
func buildPoints(conv string, docs []retrieval.Doc, dim int, avgLen float64) ([]*qc.PointStruct, error) {
	points := make([]*qc.PointStruct, 0, len(docs))
	for _, d := range docs {
		for j := 1; j < len(d.Terms); j++ {
			if d.Terms[j].ID <= d.Terms[j-1].ID {
				return nil, fmt.Errorf("seq %d: terms not strictly ascending by id at %d", d.Seq, j)
			}
		}
		vectors := map[string]*qc.Vector{}
		if len(d.Dense) > 0 {
			if dim == 0 {
				return nil, fmt.Errorf("seq %d has a dense vector but the index has no dense dimension configured", d.Seq)
			}
			if len(d.Dense) != dim {
				return nil, fmt.Errorf("seq %d: dense dimension %d, collection has %d", d.Seq, len(d.Dense), dim)
			}
			// Cosine cannot normalise a zero vector (Qdrant would score it
			// NaN): such a doc is stored without one.
			if !isZero(d.Dense) {
				vectors[denseVector] = qc.NewVectorDense(slices.Clone(d.Dense))
			}
		}
		if ids, vals := bm25Values(d.Terms, d.Length, avgLen); len(ids) > 0 {
			vectors[sparseVector] = qc.NewVectorSparse(ids, vals)
		}
		points = append(points, &qc.PointStruct{
			Id:      qc.NewIDUUID(pointID(conv, d.Seq)),
			Payload: docPayload(conv, d),
			Vectors: qc.NewVectorsMap(vectors),
		})
	}
	return points, nil
}

// docPayload is what a point carries besides its vectors: the tenant, the
// seq, and every field Get returns.
func docPayload(conv string, d retrieval.Doc) map[string]*qc.Value {
	ids := make([]*qc.Value, len(d.Terms))
	counts := make([]*qc.Value, len(d.Terms))
	for i, t := range d.Terms {
		ids[i] = qc.NewValueInt(int64(t.ID))
		counts[i] = qc.NewValueInt(int64(t.Count))
	}
	return map[string]*qc.Value{
		keyConv:       qc.NewValueString(conv),
		keySeq:        qc.NewValueInt(d.Seq),
		keyRole:       qc.NewValueString(d.Role),
		keyName:       qc.NewValueString(d.Name),
		keyContent:    qc.NewValueString(d.Content),
		keyCaption:    qc.NewValueString(d.Caption),
		keyCreatedAt:  qc.NewValueString(d.CreatedAt.UTC().Format(time.RFC3339Nano)),
		keyTokens:     qc.NewValueInt(int64(d.Tokens)),
		keyLineTokens: qc.NewValueInt(int64(d.LineTokens)),
		keyLength:     qc.NewValueInt(int64(d.Length)),
		keyTermIDs:    qc.NewValueFromList(ids...),
		keyTermCounts: qc.NewValueFromList(counts...),
	}
}

// intValue reads an integer payload value, which JSON clients may have
// written as a double.
func intValue(v *qc.Value) (int64, bool) {
	switch k := v.GetKind().(type) {
	case *qc.Value_IntegerValue:
		return k.IntegerValue, true
	case *qc.Value_DoubleValue:
		if k.DoubleValue == math.Trunc(k.DoubleValue) {
			return int64(k.DoubleValue), true
		}
	}
	return 0, false
}

// docFromPayload rebuilds a doc from its payload and dense vector (nil when
// it has none). It fails when the payload lacks the seq or is malformed.
func docFromPayload(payload map[string]*qc.Value, dense []float32) (retrieval.Doc, error) {
	var d retrieval.Doc
	seq, ok := intValue(payload[keySeq])
	if !ok {
		return d, fmt.Errorf("payload without an integer %q", keySeq)
	}
	d.Seq = seq
	d.Role = payload[keyRole].GetStringValue()
	d.Name = payload[keyName].GetStringValue()
	d.Content = payload[keyContent].GetStringValue()
	d.Caption = payload[keyCaption].GetStringValue()
	if s := payload[keyCreatedAt].GetStringValue(); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return d, fmt.Errorf("seq %d: %s: %w", seq, keyCreatedAt, err)
		}
		d.CreatedAt = t.UTC()
	}
	tokens, _ := intValue(payload[keyTokens])
	length, _ := intValue(payload[keyLength])
	lineTokens, _ := intValue(payload[keyLineTokens])
	d.Tokens, d.Length, d.LineTokens = int(tokens), int(length), int(lineTokens)
	ids := payload[keyTermIDs].GetListValue().GetValues()
	counts := payload[keyTermCounts].GetListValue().GetValues()
	if len(ids) != len(counts) {
		return d, fmt.Errorf("seq %d: %d term ids but %d counts", seq, len(ids), len(counts))
	}
	if len(ids) > 0 {
		d.Terms = make([]retrieval.TermFreq, len(ids))
		for i := range ids {
			id, ok1 := intValue(ids[i])
			n, ok2 := intValue(counts[i])
			if !ok1 || !ok2 || id < 0 || id > math.MaxUint32 || n < 0 || n > math.MaxUint32 {
				return d, fmt.Errorf("seq %d: malformed term %d", seq, i)
			}
			d.Terms[i] = retrieval.TermFreq{ID: uint32(id), Count: uint32(n)}
		}
	}
	if len(dense) > 0 {
		d.Dense = dense
	}
	return d, nil
}

// tenantFilter matches the points of conv, and with maxSeq > 0 only those
// with seq <= maxSeq.
func tenantFilter(conv string, maxSeq int64) *qc.Filter {
	f := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(keyConv, conv)}}
	if maxSeq > 0 {
		f.Must = append(f.Must, qc.NewRange(keySeq, &qc.Range{Lte: qc.PtrOf(float64(maxSeq))}))
	}
	return f
}

// searchPlan is the QueryBatch of one Search: at most one lexical and one
// dense query; lexical and dense are their positions in queries (-1: none).
type searchPlan struct {
	queries        []*qc.QueryPoints
	lexical, dense int
}

// buildSearchRequest plans q in conv as one QueryBatch: a sparse query on the
// lexical vector (duplicate term ids summed, weights ≤ 0 dropped) and a
// nearest query on the dense vector, each filtered to the conversation and
// MaxSeq, each returning only the seq payload. dim is the collection's dense
// dimension. A zero dense query, or a Limit ≤ 0, plans nothing.
func buildSearchRequest(collection, conv string, q retrieval.Query, dim int) (searchPlan, error) {
	plan := searchPlan{lexical: -1, dense: -1}
	if q.Limit <= 0 {
		return plan, nil
	}
	mk := func(query *qc.Query, using string) *qc.QueryPoints {
		return &qc.QueryPoints{
			CollectionName: collection,
			Query:          query,
			Using:          qc.PtrOf(using),
			Filter:         tenantFilter(conv, q.MaxSeq),
			Limit:          qc.PtrOf(uint64(q.Limit)),
			WithPayload:    qc.NewWithPayloadInclude(keySeq),
			WithVectors:    qc.NewWithVectors(false),
		}
	}
	if ids, weights := sparseQuery(q.Terms); len(ids) > 0 {
		plan.lexical = len(plan.queries)
		plan.queries = append(plan.queries, mk(qc.NewQuerySparse(ids, weights), sparseVector))
	}
	if q.Dense != nil {
		if dim == 0 {
			return plan, fmt.Errorf("dense query but the index has no dense dimension configured")
		}
		if len(q.Dense) != dim {
			return plan, fmt.Errorf("query dense dimension %d, collection has %d", len(q.Dense), dim)
		}
		if !isZero(q.Dense) {
			plan.dense = len(plan.queries)
			plan.queries = append(plan.queries, mk(qc.NewQueryDense(slices.Clone(q.Dense)), denseVector))
		}
	}
	return plan, nil
}

// sparseQuery is the query's sparse vector: ascending unique ids, each with
// the sum of its positive weights.
func sparseQuery(terms []retrieval.QueryTerm) ([]uint32, []float32) {
	ts := make([]retrieval.QueryTerm, 0, len(terms))
	for _, t := range terms {
		if t.Weight > 0 {
			ts = append(ts, t)
		}
	}
	slices.SortStableFunc(ts, func(a, b retrieval.QueryTerm) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	var ids []uint32
	var weights []float32
	for _, t := range ts {
		if n := len(ids); n > 0 && ids[n-1] == t.ID {
			weights[n-1] += t.Weight
			continue
		}
		ids = append(ids, t.ID)
		weights = append(weights, t.Weight)
	}
	return ids, weights
}

// hitsFromScored reads the seq of each point and orders the hits by score
// descending, ties by seq ascending.
func hitsFromScored(points []*qc.ScoredPoint) ([]retrieval.Hit, error) {
	hits := make([]retrieval.Hit, 0, len(points))
	for _, p := range points {
		seq, ok := intValue(p.GetPayload()[keySeq])
		if !ok {
			return nil, fmt.Errorf("point %s without an integer %q", p.GetId().GetUuid(), keySeq)
		}
		hits = append(hits, retrieval.Hit{Seq: seq, Score: float64(p.GetScore())})
	}
	slices.SortFunc(hits, func(a, b retrieval.Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return hits, nil
}

// watermarkRequest asks for conv's point with the highest seq.
func watermarkRequest(collection, conv string) *qc.ScrollPoints {
	return &qc.ScrollPoints{
		CollectionName: collection,
		Filter:         tenantFilter(conv, 0),
		Limit:          qc.PtrOf(uint32(1)),
		OrderBy:        &qc.OrderBy{Key: keySeq, Direction: qc.Direction_Desc.Enum()},
		WithPayload:    qc.NewWithPayloadInclude(keySeq),
		WithVectors:    qc.NewWithVectors(false),
	}
}

// getRequest fetches the points of conv's seqs with payload and dense vector.
func getRequest(collection, conv string, seqs []int64, vectors bool) *qc.GetPoints {
	g := &qc.GetPoints{
		CollectionName: collection,
		Ids:            pointIDs(conv, seqs),
		WithPayload:    qc.NewWithPayload(true),
		WithVectors:    qc.NewWithVectors(false),
	}
	if vectors {
		g.WithVectors = qc.NewWithVectorsInclude(denseVector)
	}
	return g
}

// deleteSeqsRequest deletes conv's points of seqs.
func deleteSeqsRequest(collection, conv string, seqs []int64) *qc.DeletePoints {
	return &qc.DeletePoints{
		CollectionName: collection,
		Wait:           qc.PtrOf(true),
		Points:         qc.NewPointsSelectorIDs(pointIDs(conv, seqs)),
	}
}

// deleteConversationRequest deletes every point of conv.
func deleteConversationRequest(collection, conv string) *qc.DeletePoints {
	return &qc.DeletePoints{
		CollectionName: collection,
		Wait:           qc.PtrOf(true),
		Points:         qc.NewPointsSelectorFilter(tenantFilter(conv, 0)),
	}
}

// isZero reports whether every value of v is 0.
func isZero(v []float32) bool {
	return !slices.ContainsFunc(v, func(x float32) bool { return x != 0 })
}

// denseOf is a retrieved point's dense vector, nil when it has none.
func denseOf(v *qc.VectorsOutput) []float32 {
	return v.GetVectors().GetVectors()[denseVector].GetDenseVector().GetData()
}
