// weft-compat: the differential test's tools (docs/compatibility.md).
//
//	weft-compat corpus --crds DIR --seeds DIR --out FILE [--count N] [--seed S]
//	    mutations of the seed resources, derived from the pinned CRDs' schemas; writes FILE
//	    (YAML, one document per resource) and FILE.index.jsonl (what each document mutates)
//	weft-compat istio FILE...
//	    Istio's own validation (istio.io/istio pkg/config/validation through the schema
//	    collections, exactly what `istioctl validate -f` runs) of every document
//	weft-compat dryrun --cluster DIR FILE...
//	    server-side dry-run (fieldValidation=Strict, as kubectl apply) of every document against
//	    the API server of tools/kube/control-plane's DIR
//	weft-compat compare --index FILE --weft FILE --istio FILE --apiserver FILE --intended FILE
//	    the verdicts compared; disagreements not listed in the intended file fail (exit 1)
//	weft-compat fields --index FILE --weft FILE --istio FILE --apiserver FILE
//	    docs/fields.md: what weft does with every field path of the pinned schemas
//
// Every verdict file holds one JSON object per line, one per document of the input, in order:
// {"index": N, "kind": K, "name": NAME, "valid": BOOL, "errors": [...], "warnings": [...]}.
package main

import (
	"fmt"
	"os"
)

type Verdict struct {
	Index    int      `json:"index"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Valid    bool     `json:"valid"`
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// weftctl validate only: the warnings that say a field is not enforced (code unsupported).
	Unsupported []string `json:"unsupported,omitempty"`
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: weft-compat corpus|istio|dryrun|compare|fields ... (see the source's header)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "corpus":
		err = corpusMain(os.Args[2:])
	case "istio":
		err = istioMain(os.Args[2:])
	case "dryrun":
		err = dryrunMain(os.Args[2:])
	case "compare":
		err = compareMain(os.Args[2:])
	case "fields":
		err = fieldsMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "weft-compat %s: %v\n", os.Args[1], err)
		if e, ok := err.(exitError); ok {
			os.Exit(int(e))
		}
		os.Exit(2)
	}
}

// exitError ends the program with that status, its message already printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
