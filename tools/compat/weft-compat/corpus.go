package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The corpus: every seed resource (tests/compat/seeds, the example shapes of the reference
// pages) as written, then mutations of them derived from the pinned CRDs' schemas. For every
// field path of a kind's schema (arrays entered at their first item), applied to a seed of that
// kind in turn:
//
//	set           the field set to a plausible valid value (intermediate objects created with
//	              their required fields): "every field is compiled, warned or rejected"
//	type          a value of the wrong type
//	enum:V        each enum value (at most 8), and enum-outside
//	min/max/below-min/above-max, or -1/0/2^32 for unbounded integers
//	empty         "", [] or {}
//	too-long      a string one past maxLength, a list one past maxItems
//	duration-*    0s, -1s and 5x for duration fields
//	remove        the field removed, when the seed sets it (required fields among them)
//	pair          two "set" mutations at once (oneofs and CEL rules that exclude pairs)
//
// With a fixed seed the corpus is the same on every run; when the mutations outnumber --count,
// a deterministic sample is kept, every "set" and "remove" among it.

type schema = map[string]any

type IndexEntry struct {
	Index    int    `json:"index"`
	Seed     string `json:"seed"`
	Kind     string `json:"kind"`
	Path     string `json:"path,omitempty"`
	Mutation string `json:"mutation"`
	Value    any    `json:"value,omitempty"`
	Expect   string `json:"expect,omitempty"` // seeds: their "# expect:" line
}

type step struct {
	key   string
	index int // -1: key; otherwise an array index
}

type fieldPath []step

func (p fieldPath) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

type seedDoc struct {
	name   string // file:N
	kind   string
	object map[string]any
	expect string
}

type mutation struct {
	seed  *seedDoc
	kind  string
	path  fieldPath
	name  string
	value any
	apply func(obj map[string]any) bool
}

func corpusMain(args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ExitOnError)
	crdDir := fs.String("crds", "", "directory of the pinned CRDs")
	seedDir := fs.String("seeds", "", "directory of seed resources")
	outFile := fs.String("out", "", "the corpus to write (YAML)")
	count := fs.Int("count", 8000, "number of mutated resources")
	rngSeed := fs.Int64("seed", 12, "random seed")
	seedsOnly := fs.Bool("seeds-only", false, "the seed resources only, no mutations")
	_ = fs.Parse(args)
	if *crdDir == "" || *seedDir == "" || *outFile == "" {
		return fmt.Errorf("--crds, --seeds and --out are required")
	}
	schemas, err := loadSchemas(*crdDir)
	if err != nil {
		return err
	}
	seeds, err := loadSeeds(*seedDir)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(*rngSeed))

	byKind := map[string][]*seedDoc{}
	var kinds []string
	for _, s := range seeds {
		if s.expect != "valid" {
			continue // only valid seeds are mutated: a mutation's verdict is then its own
		}
		if _, ok := schemas[schemaKey(s.object)]; !ok {
			continue
		}
		if len(byKind[s.kind]) == 0 {
			kinds = append(kinds, s.kind)
		}
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	sort.Strings(kinds)

	var sets, removes, others []mutation
	for _, kind := range kinds {
		ss := byKind[kind]
		root := schemas[schemaKey(ss[0].object)]
		spec, _ := props(root)["spec"].(schema)
		if spec == nil {
			continue
		}
		n := 0
		walk(spec, fieldPath{{key: "spec", index: -1}}, []schema{spec}, func(p fieldPath, chain []schema) {
			seed := ss[n%len(ss)]
			n++
			for _, m := range mutationsOf(p, chain) {
				m.seed, m.kind = seed, kind
				if m.name == "set" {
					sets = append(sets, m)
					// Also on two other seeds: a generated value one seed's context makes
					// invalid (a oneof sibling, a CEL rule) may be valid on another.
					for extra := 1; extra <= 2 && extra < len(ss); extra++ {
						m2 := m
						m2.seed = ss[(n-1+extra)%len(ss)]
						sets = append(sets, m2)
					}
				} else {
					others = append(others, m)
				}
			}
		})
		// Removals: every field each seed sets.
		for _, seed := range ss {
			leafPaths(seed.object["spec"], fieldPath{{key: "spec", index: -1}}, func(p fieldPath) {
				pp := p
				removes = append(removes, mutation{seed: seed, kind: kind, path: pp, name: "remove",
					apply: func(obj map[string]any) bool { return removeAt(obj, pp) }})
			})
		}
	}
	if *seedsOnly {
		sets, removes, others = nil, nil, nil
	}
	chosen := append(append([]mutation{}, sets...), removes...)
	rest := *count - len(chosen)
	if rest < len(others) {
		rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		others = others[:max(rest, 0)]
	}
	chosen = append(chosen, others...)
	// Pairs of "set" mutations on one seed, until --count.
	for len(chosen) < *count && len(sets) > 1 {
		a := sets[rng.Intn(len(sets))]
		var b mutation
		for tries := 0; tries < 20; tries++ {
			b = sets[rng.Intn(len(sets))]
			if b.kind == a.kind && b.path.String() != a.path.String() {
				break
			}
		}
		if b.kind != a.kind {
			continue
		}
		aa, bb := a, b
		chosen = append(chosen, mutation{seed: a.seed, kind: a.kind, path: a.path,
			name: "pair:" + b.path.String(), value: a.value,
			apply: func(obj map[string]any) bool { return aa.apply(obj) && bb.apply(obj) }})
	}

	var out bytes.Buffer
	var index bytes.Buffer
	enc := json.NewEncoder(&index)
	enc.SetEscapeHTML(false)
	n := 0
	emit := func(obj map[string]any, e IndexEntry) error {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		e.Index = n
		fmt.Fprintf(&out, "---\n# %d %s %s %s\n", n, e.Kind, e.Path, e.Mutation)
		out.Write(y)
		n++
		return enc.Encode(e)
	}
	for _, s := range seeds {
		if err := emit(s.object, IndexEntry{Seed: s.name, Kind: s.kind, Mutation: "seed",
			Expect: s.expect}); err != nil {
			return err
		}
	}
	sort.SliceStable(chosen, func(i, j int) bool { return chosen[i].kind < chosen[j].kind })
	for _, m := range chosen {
		obj := deepCopy(m.seed.object).(map[string]any)
		if !m.apply(obj) {
			continue
		}
		if err := emit(obj, IndexEntry{Seed: m.seed.name, Kind: m.kind, Path: m.path.String(),
			Mutation: m.name, Value: m.value}); err != nil {
			return err
		}
	}
	if err := os.WriteFile(*outFile, out.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(*outFile+".index.jsonl", index.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "weft-compat corpus: %d documents (%d seeds, %d set, %d remove) in %s\n",
		n, len(seeds), len(sets), len(removes), *outFile)
	return nil
}

func schemaKey(obj map[string]any) string {
	return str(obj, "apiVersion") + "/" + str(obj, "kind")
}

// loadSchemas: apiVersion/kind -> openAPIV3Schema, for every served version of every CRD.
func loadSchemas(dir string) (map[string]schema, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	out := map[string]schema{}
	for _, f := range files {
		docs, err := readDocuments([]string{f})
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.object == nil || str(d.object, "kind") != "CustomResourceDefinition" {
				continue
			}
			group := str(d.object, "spec", "group")
			kind := str(d.object, "spec", "names", "kind")
			spec, _ := d.object["spec"].(map[string]any)
			versions, _ := spec["versions"].([]any)
			for _, v := range versions {
				vm, _ := v.(map[string]any)
				if served, _ := vm["served"].(bool); !served {
					continue
				}
				s, _ := vm["schema"].(map[string]any)
				root, _ := s["openAPIV3Schema"].(map[string]any)
				out[group+"/"+str(vm, "name")+"/"+kind] = root
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no CRDs", dir)
	}
	return out, nil
}

// loadSeeds: every document of DIR/*.yaml, with the "# expect: ..." comment that precedes it
// ("valid", or "error: FIELD: TEXT" / "warning: ..." lines, see tests/compat/README.md).
func loadSeeds(dir string) ([]*seedDoc, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	var out []*seedDoc
	for _, f := range files {
		docs, err := readDocuments([]string{f})
		if err != nil {
			return nil, err
		}
		for i, d := range docs {
			if d.object == nil {
				return nil, fmt.Errorf("%s: document %d: %v", f, i+1, d.err)
			}
			expect := ""
			for _, line := range strings.Split(string(d.raw), "\n") {
				line = strings.TrimSpace(line)
				if rest, ok := strings.CutPrefix(line, "# expect:"); ok {
					rest = strings.TrimSpace(rest)
					if strings.HasPrefix(rest, "valid") {
						rest = "valid"
					}
					if expect == "" {
						expect = rest
					} else {
						expect += "\n" + rest
					}
				}
			}
			if expect == "" {
				return nil, fmt.Errorf("%s: document %d has no \"# expect:\" line", f, i+1)
			}
			out = append(out, &seedDoc{name: fmt.Sprintf("%s:%d", filepath.Base(f), i+1),
				kind: str(d.object, "kind"), object: d.object, expect: expect})
		}
	}
	return out, nil
}

func props(s schema) map[string]any {
	p, _ := s["properties"].(map[string]any)
	return p
}

func typeOf(s schema) string {
	if t, _ := s["type"].(string); t != "" {
		return t
	}
	if _, ok := s["properties"]; ok {
		return "object"
	}
	if v, _ := s["x-kubernetes-int-or-string"].(bool); v {
		return "int-or-string"
	}
	return ""
}

// walk calls fn for every field path under s (s itself excluded), depth-first in key order,
// with the schema of each step of the path (chain[i] is the schema at p[:i+1]).
func walk(s schema, p fieldPath, chain []schema, fn func(fieldPath, []schema)) {
	if len(p) > 14 {
		return
	}
	extend := func(st step, child schema) (fieldPath, []schema) {
		return append(append(fieldPath{}, p...), st), append(append([]schema{}, chain...), child)
	}
	switch typeOf(s) {
	case "object":
		ps := props(s)
		keys := make([]string, 0, len(ps))
		for k := range ps {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child, _ := ps[k].(map[string]any)
			if child == nil {
				continue
			}
			cp, cc := extend(step{key: k, index: -1}, child)
			fn(cp, cc)
			walk(child, cp, cc, fn)
		}
		if ap, _ := s["additionalProperties"].(map[string]any); ap != nil && len(ps) == 0 {
			cp, cc := extend(step{key: "key", index: -1}, ap)
			walk(ap, cp, cc, fn)
		}
	case "array":
		if items, _ := s["items"].(map[string]any); items != nil {
			cp, cc := extend(step{index: 0}, items)
			if t := typeOf(items); t != "object" && t != "array" {
				fn(cp, cc) // lists of scalars: their item's values
			}
			walk(items, cp, cc, fn)
		}
	}
}

func lastKey(p fieldPath) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i].index < 0 {
			return p[i].key
		}
	}
	return ""
}

func isDuration(s schema, name string) bool {
	if rules, _ := s["x-kubernetes-validations"].([]any); rules != nil {
		for _, r := range rules {
			rm, _ := r.(map[string]any)
			if strings.Contains(str(rm, "rule"), "duration(") {
				return true
			}
		}
	}
	if str(s, "format") == "duration" {
		return true
	}
	d := strings.ToLower(str(s, "description"))
	n := strings.ToLower(name)
	return typeOf(s) == "string" && (strings.Contains(d, "duration") || strings.HasSuffix(n, "timeout") ||
		strings.HasSuffix(n, "interval") || strings.HasSuffix(n, "delay") || n == "ttl" ||
		strings.HasSuffix(n, "time") || n == "backoff" || n == "pertrytimeout" || strings.HasSuffix(n, "duration"))
}

// sample: a plausible valid value of the schema, for a field named `name`.
func sample(s schema, name string, depth int) any {
	if enum, _ := s["enum"].([]any); len(enum) > 0 {
		for _, e := range enum {
			if es, _ := e.(string); es != "" && !strings.Contains(es, "UNSPECIFIED") && es != "UNSET" {
				return e
			}
		}
		return enum[0]
	}
	n := strings.ToLower(name)
	switch typeOf(s) {
	case "string":
		var v string
		switch {
		case isDuration(s, name):
			v = "5s"
		case strings.Contains(n, "host") || n == "sni" || strings.Contains(n, "subjectaltnames") || n == "authority":
			v = "example.com"
		case n == "regex" || strings.HasSuffix(n, "regex"):
			v = "^/api.*"
		case n == "path" || n == "prefix" || strings.HasSuffix(n, "path") || n == "uri" || n == "replaceprefixmatch":
			v = "/api"
		case strings.Contains(n, "namespace"):
			v = "default"
		case strings.Contains(n, "address") || n == "ip" || strings.Contains(n, "ipblock") || n == "remoteipblocks":
			v = "10.0.0.1"
		case strings.Contains(n, "principal"):
			v = "cluster.local/ns/default/sa/client"
		case strings.Contains(n, "method"):
			v = "GET"
		case n == "group":
			v = ""
		case n == "kind":
			v = "Service"
		case strings.Contains(n, "port"):
			v = "8080"
		case n == "scheme":
			v = "https"
		case n == "name" || strings.HasSuffix(n, "name"):
			v = "example"
		default:
			v = "v1"
		}
		if ml, ok := num(s["maxLength"]); ok && float64(len(v)) > ml {
			v = v[:int(ml)]
		}
		if ml, ok := num(s["minLength"]); ok && float64(len(v)) < ml {
			v += strings.Repeat("a", int(ml)-len(v))
		}
		return v
	case "integer":
		v := 1.0
		if strings.Contains(n, "port") || n == "number" {
			v = 8080
		}
		if mn, ok := num(s["minimum"]); ok && v < mn {
			v = mn
		}
		if mx, ok := num(s["maximum"]); ok && v > mx {
			v = mx
		}
		return int64(v)
	case "number":
		if strings.Contains(n, "percent") || n == "value" {
			return 50.0
		}
		return 1.0
	case "boolean":
		return true
	case "int-or-string":
		return 8080
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return []any{}
		}
		return []any{sample(items, name, depth+1)}
	case "object":
		out := map[string]any{}
		if depth > 8 {
			return out
		}
		ps := props(s)
		req, _ := s["required"].([]any)
		for _, r := range req {
			rs, _ := r.(string)
			if child, _ := ps[rs].(map[string]any); child != nil {
				out[rs] = sample(child, rs, depth+1)
			}
		}
		if ap, _ := s["additionalProperties"].(map[string]any); ap != nil && len(ps) == 0 {
			out["key"] = sample(ap, "value", depth+1)
		}
		return out
	}
	return map[string]any{}
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func mutationsOf(p fieldPath, chain []schema) []mutation {
	s := chain[len(chain)-1]
	name := lastKey(p)
	var out []mutation
	add := func(m string, v any) {
		pp, cc := p, chain
		out = append(out, mutation{path: pp, name: m, value: v,
			apply: func(obj map[string]any) bool { return setAt(obj, pp, cc, v) }})
	}
	add("set", sample(s, name, 0))
	t := typeOf(s)
	switch t {
	case "string":
		add("type", int64(12345))
	case "integer", "number":
		add("type", "abc")
	case "boolean":
		add("type", "maybe")
	case "object":
		add("type", "abc")
	case "array":
		add("type", "abc")
	case "int-or-string":
		add("type", true)
	}
	if enum, _ := s["enum"].([]any); len(enum) > 0 {
		for i, e := range enum {
			if i == 8 {
				break
			}
			add(fmt.Sprintf("enum:%v", e), e)
		}
		add("enum-outside", "NOT_A_VALUE")
	}
	if t == "integer" || t == "number" {
		mn, hasMin := num(s["minimum"])
		mx, hasMax := num(s["maximum"])
		if hasMin {
			add("min", int64(mn))
			add("below-min", int64(mn)-1)
		}
		if hasMax {
			add("max", int64(mx))
			add("above-max", int64(mx)+1)
		}
		if !hasMin {
			add("negative", int64(-1))
		}
		add("zero", int64(0))
		if !hasMax {
			add("big", int64(4294967296))
		}
		if t == "number" {
			add("fraction", 0.5)
		}
	}
	if t == "string" {
		add("empty", "")
		if ml, ok := num(s["maxLength"]); ok && ml < 5000 {
			add("too-long", strings.Repeat("a", int(ml)+1))
		}
		if isDuration(s, name) {
			add("duration-zero", "0s")
			add("duration-negative", "-1s")
			add("duration-bad", "5x")
			add("duration-ms", "1ms")
		}
		if strings.Contains(strings.ToLower(name), "host") {
			add("wildcard", "*")
			add("wildcard-suffix", "*.example.com")
			add("upper", "Example.COM")
		}
		if strings.Contains(strings.ToLower(name), "regex") {
			add("bad-regex", "(")
		}
		if strings.Contains(strings.ToLower(name), "ip") || strings.Contains(strings.ToLower(name), "address") {
			add("cidr", "10.0.0.0/8")
			add("ipv6", "2001:db8::1")
			add("not-an-ip", "300.1.1.1")
		}
	}
	if t == "array" {
		add("empty", []any{})
		items, _ := s["items"].(map[string]any)
		if items != nil {
			v := sample(items, name, 1)
			add("duplicate", []any{v, deepCopy(v)})
			if mx, ok := num(s["maxItems"]); ok && mx < 100 {
				list := make([]any, int(mx)+1)
				for i := range list {
					list[i] = deepCopy(v)
				}
				add("too-many", list)
			}
		}
	}
	if t == "object" {
		add("empty", map[string]any{})
	}
	if t == "int-or-string" {
		add("string", "http")
		add("zero", int64(0))
	}
	return out
}

// setAt sets obj at p to v. Missing intermediate fields are created as samples of their schema
// (objects with their required fields, lists of one item); chain[i] is the schema at p[:i+1].
func setAt(obj map[string]any, p fieldPath, chain []schema, v any) bool {
	var cur any = obj
	for i, s := range p {
		last := i == len(p)-1
		if s.index >= 0 {
			list, ok := cur.([]any)
			if !ok || len(list) <= s.index {
				return false
			}
			if last {
				list[s.index] = deepCopy(v)
				return true
			}
			if _, isMap := list[s.index].(map[string]any); !isMap && p[i+1].index < 0 {
				list[s.index] = sample(chain[i], lastKey(p[:i+1]), 1)
			}
			cur = list[s.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if last {
			m[s.key] = deepCopy(v)
			return true
		}
		next, exists := m[s.key]
		if l, isList := next.([]any); !exists || next == nil || (isList && len(l) == 0) {
			next = sample(chain[i], s.key, 1)
			if l, isList := next.([]any); isList && len(l) == 0 {
				next = []any{map[string]any{}}
			}
			m[s.key] = next
		}
		cur = next
	}
	return false
}

func removeAt(obj map[string]any, p fieldPath) bool {
	var cur any = obj
	for i, s := range p {
		last := i == len(p)-1
		if s.index >= 0 {
			list, ok := cur.([]any)
			if !ok || len(list) <= s.index {
				return false
			}
			cur = list[s.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if last {
			if _, ok := m[s.key]; !ok {
				return false
			}
			delete(m, s.key)
			return true
		}
		cur = m[s.key]
	}
	return false
}

// leafPaths calls fn for every key path under v (maps' keys and lists' first item).
func leafPaths(v any, p fieldPath, fn func(fieldPath)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cp := append(append(fieldPath{}, p...), step{key: k, index: -1})
			fn(cp)
			leafPaths(x[k], cp, fn)
		}
	case []any:
		if len(x) > 0 {
			leafPaths(x[0], append(append(fieldPath{}, p...), step{index: 0}), fn)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
