package httpform

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func post(contentType, body, query string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token?"+query, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestRead(t *testing.T) {
	const form = ContentType
	tests := []struct {
		name, contentType, body, query string
		// want is the description's start, "" for success.
		want     string
		postForm url.Values
		allForm  url.Values
	}{
		{"plain", form, "grant_type=client_credentials&scope=read+write", "", "", url.Values{"grant_type": {"client_credentials"}, "scope": {"read write"}}, nil},
		{"charset parameter", form + "; charset=UTF-8", "a=1", "", "", url.Values{"a": {"1"}}, nil},
		{"empty body", form, "", "", "", url.Values{}, nil},
		{"repeated parameter kept whole", form, "a=1&a=2", "", "", url.Values{"a": {"1", "2"}}, nil},
		{"body before query in Form", form, "a=1", "a=2&b=3", "", url.Values{"a": {"1"}}, url.Values{"a": {"1", "2"}, "b": {"3"}}},
		{"malformed query ignored", form, "a=1", "b=%zz", "", url.Values{"a": {"1"}}, url.Values{"a": {"1"}}},
		{"bad escape in a value", form, "grant_type=client_credentials&scope=read%zz", "", Malformed + ": a '%' must", nil, nil},
		{"bad escape in a name", form, "sc%ope=read", "", Malformed + ": a '%' must", nil, nil},
		{"truncated escape", form, "a=%4", "", Malformed + ": a '%' must", nil, nil},
		{"semicolon", form, "a=1;b=2", "", Malformed + ": ';'", nil, nil},
		{"JSON body", "application/json", `{"a":1}`, "", "The body must be", nil, nil},
		{"no content type", "", "a=1", "", "The body must be", nil, nil},
		{"multipart", "multipart/form-data; boundary=x", "--x--", "", "The body must be", nil, nil},
		{"unparsable content type", "application/x-www-form-urlencoded; =", "a=1", "", "The body must be", nil, nil},
		{"over MaxBody", form, "a=" + strings.Repeat("b", MaxBody), "", "The request body is too large.", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.contentType, tc.body, tc.query)
			err := Read(r)
			if tc.want != "" {
				var bad *Error
				if !errors.As(err, &bad) || !strings.HasPrefix(bad.Description, tc.want) {
					t.Fatalf("error %v, want one starting %q", err, tc.want)
				}
				if r.PostForm != nil || r.Form != nil {
					t.Fatalf("forms set on a refused body: %v %v", r.PostForm, r.Form)
				}
				if strings.Contains(bad.Description, "read%zz") || strings.Contains(bad.Description, "bbbb") {
					t.Fatalf("the description repeats the body: %q", bad.Description)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(r.PostForm, tc.postForm) {
				t.Fatalf("PostForm %v, want %v", r.PostForm, tc.postForm)
			}
			all := tc.allForm
			if all == nil {
				all = tc.postForm
			}
			if !reflect.DeepEqual(r.Form, all) {
				t.Fatalf("Form %v, want %v", r.Form, all)
			}
		})
	}
}

// A body over an http.MaxBytesReader's limit is too large, as one over
// MaxBody is.
func TestReadMaxBytesReader(t *testing.T) {
	r := post(ContentType, "a="+strings.Repeat("b", 100), "")
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	var bad *Error
	if err := Read(r); !errors.As(err, &bad) || bad.Description != tooLarge {
		t.Fatalf("error %v, want %q", err, tooLarge)
	}
}

// FuzzRead: Read accepts a body exactly when url.ParseQuery does, and
// then its PostForm is net/http's ParseForm's, so the later ParseForm
// that fosite makes sees what Read checked; a refusal never quotes the
// body.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"grant_type=client_credentials&scope=read", "scope=read%zz", "a=%", "a=%4", "a=%41", "a;b", "a=1&&b=2",
		"=", "&", "a=+%2B+", "grant_type=client_credentials%zz", "x=%zz&scope=read", "%e2%82%ac=%ff", "a=1;b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := post(ContentType, body, "")
		err := Read(r)
		want, wantErr := url.ParseQuery(body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Read(%q) = %v, url.ParseQuery: %v", body, err, wantErr)
		}
		if err != nil {
			var bad *Error
			if !errors.As(err, &bad) || (len(body) > 8 && strings.Contains(bad.Description, body)) {
				t.Fatalf("Read(%q) = %v", body, err)
			}
			return
		}
		if !reflect.DeepEqual(r.PostForm, want) {
			t.Fatalf("PostForm %v, want %v", r.PostForm, want)
		}
		ref := post(ContentType, body, "")
		_ = ref.ParseForm()
		if !reflect.DeepEqual(r.PostForm, ref.PostForm) {
			t.Fatalf("PostForm %v, net/http's %v", r.PostForm, ref.PostForm)
		}
	})
}
