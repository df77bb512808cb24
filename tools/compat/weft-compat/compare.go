package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// An intended difference (tests/compat/intended.yaml): documents of that kind whose mutated
// path, mutation and seed (file:document) match the regular expressions (whole-string) and on which weft's verdict is
// `weft` (rejects: weft finds an error, upstream none; accepts: the reverse) are explained by
// `reason`, which docs/policies.md repeats.
type intended struct {
	Kind     string `json:"kind"`
	Seed     string `json:"seed"`
	Path     string `json:"path"`
	Mutation string `json:"mutation"`
	Weft     string `json:"weft"`
	Reason   string `json:"reason"`
	path     *regexp.Regexp
	mutation *regexp.Regexp
	seed     *regexp.Regexp
	matched  int
}

func (it *intended) matches(e IndexEntry, weftRejects bool) bool {
	if it.Kind != e.Kind || (it.Weft == "rejects") != weftRejects {
		return false
	}
	return it.path.MatchString(e.Path) && it.mutation.MatchString(e.Mutation) &&
		it.seed.MatchString(e.Seed)
}

func loadIntended(file string) ([]*intended, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*intended
	if err := yaml.UnmarshalStrict(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	for i, it := range out {
		if it.Kind == "" || (it.Weft != "rejects" && it.Weft != "accepts") || it.Reason == "" {
			return nil, fmt.Errorf("%s: entry %d: kind, weft (rejects|accepts) and reason are required", file, i+1)
		}
		if it.Path == "" {
			it.Path = ".*"
		}
		if it.Mutation == "" {
			it.Mutation = ".*"
		}
		if it.Seed == "" {
			it.Seed = ".*"
		}
		if it.seed, err = regexp.Compile("^(?:" + it.Seed + ")$"); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %v", file, i+1, err)
		}
		if it.path, err = regexp.Compile("^(?:" + it.Path + ")$"); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %v", file, i+1, err)
		}
		if it.mutation, err = regexp.Compile("^(?:" + it.Mutation + ")$"); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %v", file, i+1, err)
		}
	}
	return out, nil
}

func readIndex(file string) ([]IndexEntry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []IndexEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var e IndexEntry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// compareMain: upstream's verdict is "valid" when the API server admits the document and
// Istio's validation finds no error (either may be absent: --istio/--apiserver are optional,
// for the seed test that runs without a cluster). Seeds are also checked against their
// "# expect:" lines: "valid" (no error from anyone), or "error: TEXT" lines, each of which one
// of weft's errors must contain (and upstream must reject the seed too).
func compareMain(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	files := addRunFlags(fs)
	intendedFile := fs.String("intended", "", "the intended differences")
	show := fs.Int("show", 40, "disagreements printed in full")
	_ = fs.Parse(args)
	r, err := files.load(false)
	if err != nil {
		return err
	}
	index, weft, istio, api := r.index, r.weft, r.istio, r.api
	its, err := loadIntended(*intendedFile)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()

	type group struct {
		key   string
		count int
		first int
	}
	groups := map[string]*group{}
	var failures []string
	shown := 0
	agree, explained := 0, 0
	for _, e := range index {
		wv, ok := weft[e.Index]
		if !ok {
			return fmt.Errorf("weft has no verdict for document %d", e.Index)
		}
		upstreamValid := true
		var upstreamErrs []string
		if istio != nil {
			iv, ok := istio[e.Index]
			if !ok {
				return fmt.Errorf("istio has no verdict for document %d", e.Index)
			}
			if !iv.Valid {
				upstreamValid = false
				upstreamErrs = append(upstreamErrs, prefix("istio: ", iv.Errors)...)
			}
		}
		if api != nil {
			av, ok := api[e.Index]
			if !ok {
				return fmt.Errorf("the API server has no verdict for document %d", e.Index)
			}
			if !av.Valid {
				upstreamValid = false
				upstreamErrs = append(upstreamErrs, prefix("apiserver: ", av.Errors)...)
			}
		}
		// Without the API server, Istio's validation speaks for Istio's kinds only (it does not
		// validate Gateway API's: their schema and CEL rules are the API server's).
		upstream := api != nil || (istio != nil && istioKinds[e.Kind])
		weftRejects := !wv.Valid
		var hit *intended
		if upstream && wv.Valid != upstreamValid {
			for _, it := range its {
				if it.matches(e, weftRejects) {
					hit = it
					break
				}
			}
		}
		// A seed whose difference is intended is checked against its expectation without
		// upstream's verdict.
		if e.Mutation == "seed" {
			haveUpstream := upstream && hit == nil
			if msg := checkSeed(e, wv, upstreamValid, haveUpstream); msg != "" {
				failures = append(failures, msg)
			}
		}
		if !upstream || wv.Valid == upstreamValid {
			agree++
			continue
		}
		if hit != nil {
			hit.matched++
			explained++
			continue
		}
		dir := "weft accepts what upstream rejects"
		if weftRejects {
			dir = "weft rejects what upstream accepts"
		}
		key := fmt.Sprintf("%s %s %s: %s", e.Kind, e.Path, e.Mutation, dir)
		if g := groups[key]; g != nil {
			g.count++
		} else {
			groups[key] = &group{key: key, count: 1, first: e.Index}
		}
		if shown < *show {
			shown++
			value, _ := json.Marshal(e.Value)
			fmt.Fprintf(w, "DISAGREE #%d %s (seed %s) %s %s = %s: %s\n", e.Index, e.Kind, e.Seed, e.Path,
				e.Mutation, value, dir)
			for _, m := range wv.Errors {
				fmt.Fprintf(w, "    weft: %s\n", m)
			}
			for _, m := range upstreamErrs {
				fmt.Fprintf(w, "    %s\n", m)
			}
		}
	}
	var keys []string
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	unexplained := 0
	if len(keys) > 0 {
		fmt.Fprintf(w, "\nUnexplained disagreements by field and mutation (count, first document):\n")
		for _, k := range keys {
			fmt.Fprintf(w, "  %4d  #%-5d %s\n", groups[k].count, groups[k].first, k)
			unexplained += groups[k].count
		}
	}
	for _, it := range its {
		if it.matched == 0 {
			fmt.Fprintf(w, "note: intended difference matched nothing (stale?): %s %s %s weft %s\n",
				it.Kind, it.Path, it.Mutation, it.Weft)
		}
	}
	for _, f := range failures {
		fmt.Fprintf(w, "SEED %s\n", f)
	}
	fmt.Fprintf(w, "\n%d documents: %d agree, %d differ as intended, %d unexplained; %d seed failures\n",
		len(index), agree, explained, unexplained, len(failures))
	if unexplained > 0 || len(failures) > 0 {
		w.Flush()
		return exitError(1)
	}
	return nil
}

var istioKinds = map[string]bool{
	"VirtualService": true, "DestinationRule": true, "ServiceEntry": true,
	"PeerAuthentication": true, "AuthorizationPolicy": true,
}

func prefix(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func checkSeed(e IndexEntry, wv Verdict, upstreamValid, haveUpstream bool) string {
	where := fmt.Sprintf("%s (document %d, %s)", e.Seed, e.Index, e.Kind)
	if e.Expect == "valid" {
		if !wv.Valid {
			return where + ": expected valid, weft says: " + strings.Join(wv.Errors, "; ")
		}
		if haveUpstream && !upstreamValid {
			return where + ": expected valid, upstream rejects it"
		}
		return ""
	}
	for _, line := range strings.Split(e.Expect, "\n") {
		sev, text, _ := strings.Cut(line, ":")
		text = strings.TrimSpace(text)
		var pool []string
		switch strings.TrimSpace(sev) {
		case "error":
			pool = wv.Errors
		case "warning":
			pool = wv.Warnings
		default:
			return where + ": bad expect line " + line
		}
		found := false
		for _, m := range pool {
			if strings.Contains(m, text) {
				found = true
			}
		}
		if !found {
			return fmt.Sprintf("%s: expected %s containing %q; weft's errors: %q, warnings: %q", where,
				strings.TrimSpace(sev), text, wv.Errors, wv.Warnings)
		}
	}
	hasError := strings.Contains(e.Expect, "error:")
	if !hasError && !wv.Valid {
		return where + ": expected no error, weft says: " + strings.Join(wv.Errors, "; ")
	}
	if haveUpstream && hasError == upstreamValid {
		return where + ": the expected verdict differs from upstream's"
	}
	return ""
}
