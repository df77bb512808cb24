// etcd of a pinned release, built from its Go module (Debian's etcd-server is 3.4).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
