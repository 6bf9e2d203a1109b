package testserver

import (
	"context"
	"sort"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// DumpDatabase reads every document of database db at uri through the
// MongoDB driver, sorted by _id within each collection.
func DumpDatabase(t testing.TB, uri, db string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("dump: connect: %v", err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	d := client.Database(db)
	names, err := d.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatalf("dump: list collections: %v", err)
	}
	sort.Strings(names)
	out := map[string][]string{}
	for _, name := range names {
		cur, err := d.Collection(name).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		for _, doc := range docs {
			out[name] = append(out[name], doc.String())
		}
	}
	return out
}
