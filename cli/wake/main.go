// Command wake is the single wake binary: server, node agent, and client.
package main

import (
	"os"

	"github.com/wake-run/wake/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
