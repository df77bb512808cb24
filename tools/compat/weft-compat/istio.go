package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/hashicorp/go-multierror"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
	"istio.io/istio/pkg/config/validation"
)

// istioMain validates each document as istioctl validate does (istioctl/pkg/validate:
// validateResource): the kind's schema from collections.Pilot, the spec read strictly into its
// proto (unknown fields are errors), only apiVersion/kind/metadata/spec/status at the top,
// namespace "default" when absent, then the schema's ValidateConfig. Kinds Istio has no schema
// for are valid (istioctl does not look at them).
func istioMain(args []string) error {
	// Istio's validation logs (deprecation notices) to standard output: verdicts go to a
	// duplicate of it, the logs to /dev/null.
	outFD, err := syscall.Dup(1)
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := syscall.Dup3(int(null.Fd()), 1, 0); err != nil {
		return err
	}
	stdout := os.NewFile(uintptr(outFD), "stdout")
	docs, err := readDocuments(args)
	if err != nil {
		return err
	}
	out := make([]Verdict, 0, len(docs))
	for i, d := range docs {
		v := Verdict{Index: i, Valid: true}
		if d.err != nil {
			v.Valid = false
			v.Errors = []string{d.err.Error()}
			out = append(out, v)
			continue
		}
		un := &unstructured.Unstructured{Object: d.object}
		v.Kind, v.Name = un.GetKind(), un.GetName()
		warn, err := validateIstio(un)
		if err != nil {
			v.Valid = false
			v.Errors = splitErrors(err)
		}
		if warn != nil {
			v.Warnings = splitErrors(warn)
		}
		out = append(out, v)
	}
	return writeVerdicts(stdout, out)
}

var validTopFields = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "spec": true, "status": true}

func validateIstio(un *unstructured.Unstructured) (w validation.Warning, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in Istio's validation: %v", r)
		}
	}()
	gvk := un.GroupVersionKind()
	schema, ok := collections.Pilot.FindByGroupVersionAliasesKind(config.GroupVersionKind{
		Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
	})
	if !ok {
		return nil, nil
	}
	cfg, err := convert(schema, un)
	if err != nil {
		return nil, fmt.Errorf("cannot parse proto message: %v", err)
	}
	var errs error
	for k := range un.Object {
		if !validTopFields[k] {
			errs = multierror.Append(errs, fmt.Errorf("unknown field %q", k))
		}
	}
	if errs != nil {
		return nil, errs
	}
	if cfg.Namespace == "" {
		cfg.Namespace = metav1.NamespaceDefault
	}
	return schema.ValidateConfig(*cfg)
}

func convert(schema resource.Schema, un *unstructured.Unstructured) (*config.Config, error) {
	data, err := json.Marshal(un.Object["spec"])
	if err != nil {
		return nil, err
	}
	spec, err := schema.NewInstance()
	if err != nil {
		return nil, err
	}
	if err := config.ApplyJSONStrict(spec, string(data)); err != nil {
		return nil, err
	}
	return &config.Config{
		Meta: config.Meta{
			GroupVersionKind: schema.GroupVersionKind(),
			Name:             un.GetName(),
			Namespace:        un.GetNamespace(),
			Labels:           un.GetLabels(),
			Annotations:      un.GetAnnotations(),
		},
		Spec: spec,
	}, nil
}

func splitErrors(err error) []string {
	if me, ok := err.(*multierror.Error); ok {
		var out []string
		for _, e := range me.Errors {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	s := strings.TrimSpace(err.Error())
	if s == "" {
		return nil
	}
	return []string{s}
}
