// Package metrics is the server's Prometheus instrumentation
// (prometheus/client_golang): one registry passed explicitly, never the
// global one. Counters the domain keeps anyway (limiter refusals,
// revocations, key-set version, store failures) are read at scrape time,
// so they cost the request path nothing; per-route instruments are
// resolved once when the routes are mounted, so that a request costs a
// few atomic adds and no label building.
//
// It must not label anything by a value a client chooses (a client id, a
// raw path): label sets stay bounded whatever the traffic.
package metrics
