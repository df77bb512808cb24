package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The kinds the corpus holds, by kind: their resource names (plurals) and whether they are
// namespaced. Core kinds are served by every API server; the others by deploy/crds.
var plurals = map[string]string{
	"VirtualService": "virtualservices", "DestinationRule": "destinationrules",
	"ServiceEntry": "serviceentries", "PeerAuthentication": "peerauthentications",
	"AuthorizationPolicy": "authorizationpolicies", "HTTPRoute": "httproutes",
	"GRPCRoute": "grpcroutes", "Gateway": "gateways", "GatewayClass": "gatewayclasses",
	"ReferenceGrant": "referencegrants", "BackendTLSPolicy": "backendtlspolicies",
	"Service": "services", "Pod": "pods", "Namespace": "namespaces",
	"ServiceAccount": "serviceaccounts",
}
var clusterScoped = map[string]bool{"GatewayClass": true, "Namespace": true}

type apiClient struct {
	server string
	http   *http.Client
}

func newAPIClient(dir string) (*apiClient, error) {
	server, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s/ca.crt: no certificate", dir)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key"))
	if err != nil {
		return nil, err
	}
	return &apiClient{
		server: strings.TrimSpace(string(server)),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
			MaxIdleConnsPerHost: 16,
		}},
	}, nil
}

// create POSTs the object; dryRun makes it server-side dry-run. Returns the HTTP status and the
// Status message of a failure.
func (c *apiClient) create(obj map[string]any, dryRun bool) (int, string, error) {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	plural, ok := plurals[kind]
	if !ok {
		return 0, fmt.Sprintf("kind %q is not in weft-compat's table", kind), nil
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	if !clusterScoped[kind] {
		ns := str(obj, "metadata", "namespace")
		if ns == "" {
			ns = "default"
		}
		path += "/namespaces/" + ns
	}
	path += "/" + plural + "?fieldValidation=Strict"
	if dryRun {
		path += "&dryRun=All"
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return 0, "", err
	}
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		resp, err = c.http.Post(c.server+path, "application/json", bytes.NewReader(body))
		if err == nil && resp.StatusCode != 429 && resp.StatusCode != 503 && resp.StatusCode != 504 {
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		if attempt == 5 {
			if err == nil {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return 0, "", fmt.Errorf("POST %s: %v", path, err)
		}
		time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return resp.StatusCode, "", nil
	}
	var status struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &status)
	if status.Message == "" {
		status.Message = strings.TrimSpace(string(data))
	}
	return resp.StatusCode, status.Message, nil
}

// dryrunMain: each document POSTed with dryRun=All and fieldValidation=Strict (what
// `kubectl apply --dry-run=server` asks), 8 at a time. The namespaces the documents name are
// created first (a dry-run create into a missing namespace is refused). A document the API
// server refuses with 404 (kind not served) or 409 (exists) is reported as such, not as
// invalid: the corpus must not depend on the cluster's state.
func dryrunMain(args []string) error {
	fs := flag.NewFlagSet("dryrun", flag.ExitOnError)
	dir := fs.String("cluster", "", "tools/kube/control-plane's directory")
	workers := fs.Int("workers", 8, "requests in flight")
	_ = fs.Parse(args)
	c, err := newAPIClient(*dir)
	if err != nil {
		return err
	}
	docs, err := readDocuments(fs.Args())
	if err != nil {
		return err
	}
	namespaces := map[string]bool{"default": true}
	for _, d := range docs {
		if d.object != nil {
			if ns := str(d.object, "metadata", "namespace"); ns != "" {
				namespaces[ns] = true
			}
		}
	}
	for ns := range namespaces {
		obj := map[string]any{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": ns}}
		code, msg, err := c.create(obj, false)
		if err != nil {
			return err
		}
		if code >= 300 && code != 409 && !(code == 422 && ns != "default") {
			return fmt.Errorf("creating namespace %s: HTTP %d: %s", ns, code, msg)
		}
	}
	out := make([]Verdict, len(docs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d := docs[i]
				v := Verdict{Index: i, Valid: true}
				if d.err != nil {
					v.Valid, v.Errors = false, []string{d.err.Error()}
					out[i] = v
					continue
				}
				v.Kind, v.Name = str(d.object, "kind"), str(d.object, "metadata", "name")
				code, msg, err := c.create(d.object, true)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				switch {
				case code == 0:
					v.Valid, v.Errors = false, []string{msg}
				case code == 404 || code == 409:
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("document %d (%s/%s): HTTP %d: %s", i, v.Kind, v.Name, code, msg)
					}
					mu.Unlock()
				case code >= 300:
					v.Valid, v.Errors = false, []string{msg}
				}
				out[i] = v
			}
		}()
	}
	for i := range docs {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return writeVerdicts(os.Stdout, out)
}
