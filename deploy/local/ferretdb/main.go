// Command ferretdb runs FerretDB v1 (pinned in go.mod) through its official embeddable package,
// for local runs and CI: with the SQLite backend by default, or with the PostgreSQL one
// (`-handler postgresql -postgresql-url postgres://...`), which pushes equality filters down to SQL
// where SQLite decodes and filters every document in Go.
//
// Why a wrapper and not `go install .../cmd/ferretdb@v1.24.2`: a binary built that way panics at
// start-up ("Invalid build/version/version.txt file content"), because the version file is produced
// by FerretDB's own release tooling and is absent from the published module. The embeddable
// package `github.com/FerretDB/FerretDB/ferretdb` is the same server without that check.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI (a directory, ending with /), for -handler sqlite")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgres://user@host:port/db), for -handler postgresql")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		slog.Error("bad -log-level", "error", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Warn("FerretDB listening", "uri", server.MongoDBURI())
	if err := server.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
}
