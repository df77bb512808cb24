package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// readDocuments splits the files into YAML documents as kubectl does (k8s.io/apimachinery's
// YAML reader: "---" separators; documents holding nothing but comments are skipped) and
// converts each into JSON (sigs.k8s.io/yaml, kubectl's YAML 1.1 reading). A document that does
// not parse is returned with a nil object and its error.
type document struct {
	raw    []byte
	object map[string]any
	err    error
}

func readDocuments(files []string) ([]document, error) {
	var out []document
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := kubeyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			raw, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			if isEmptyDocument(raw) {
				continue
			}
			d := document{raw: raw}
			var obj map[string]any
			if err := yaml.Unmarshal(raw, &obj); err != nil {
				d.err = err
			} else {
				d.object = obj
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func isEmptyDocument(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		return false
	}
	return true
}

func str(m map[string]any, keys ...string) string {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}

func writeVerdicts(w io.Writer, vs []Verdict) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func readVerdicts(file string) (map[int]Verdict, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[int]Verdict{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var v Verdict
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		out[v.Index] = v
	}
	return out, nil
}

// runFiles: the flags naming one run's corpus index and verdict files, shared by compare and
// fields.
type runFiles struct{ index, weft, istio, apiserver *string }

func addRunFlags(fs *flag.FlagSet) runFiles {
	return runFiles{
		index:     fs.String("index", "", "the corpus index (corpus --out FILE's FILE.index.jsonl)"),
		weft:      fs.String("weft", "", "weftctl validate -o jsonl's verdicts"),
		istio:     fs.String("istio", "", "weft-compat istio's verdicts"),
		apiserver: fs.String("apiserver", "", "weft-compat dryrun's verdicts"),
	}
}

// run: one run's index and verdicts by document index.
type run struct {
	index            []IndexEntry
	weft, istio, api map[int]Verdict
}

// load reads the index and the verdicts; the istio and apiserver verdicts are nil when their
// flag is empty, unless `needUpstream`, when that is an error.
func (f runFiles) load(needUpstream bool) (run, error) {
	var r run
	var err error
	if r.index, err = readIndex(*f.index); err != nil {
		return r, err
	}
	if r.weft, err = readVerdicts(*f.weft); err != nil {
		return r, err
	}
	for _, u := range []struct {
		flag string
		file string
		into *map[int]Verdict
	}{{"--istio", *f.istio, &r.istio}, {"--apiserver", *f.apiserver, &r.api}} {
		if u.file == "" {
			if needUpstream {
				return r, fmt.Errorf("%s is required", u.flag)
			}
			continue
		}
		if *u.into, err = readVerdicts(u.file); err != nil {
			return r, err
		}
	}
	return r, nil
}
