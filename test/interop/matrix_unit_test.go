package interop

import (
	"slices"
	"strings"
	"testing"
)

// A row's outcome: an expected failure must fail with its own error, and
// a marked row that passes fails the suite.
func TestVerdict(t *testing.T) {
	exp := []expectation{{reason: "bug A", match: "refused A"}, {reason: "bug B", match: "refused B"}}
	tests := []struct {
		name    string
		problem string
		exp     []expectation
		outcome string
		why     string
	}{
		{"passes unmarked", "", nil, outcomePass, ""},
		{"fails unmarked", "HTTP 500", nil, outcomeFail, "HTTP 500"},
		{"fails as the first mark says", "400: refused A", exp, outcomeXFail, "bug A"},
		{"fails as the second mark says", "401: refused B", exp, outcomeXFail, "bug B"},
		{"fails otherwise than marked", "HTTP 500", exp, outcomeFail, "fails otherwise than its expected failure (bug A): HTTP 500"},
		{"passes although marked", "", exp, outcomeFail, "passes, but is marked as an expected failure (bug A): remove the mark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome, why := verdict(tt.problem, tt.exp)
			if outcome != tt.outcome || why != tt.why {
				t.Errorf("verdict(%q) = %q, %q; want %q, %q", tt.problem, outcome, why, tt.outcome, tt.why)
			}
		})
	}
}

// Every mark names rows the matrix has, so that none is dead.
func TestExpectedFailuresNameRows(t *testing.T) {
	byName := map[string]library{}
	for _, l := range libraries {
		byName[l.name] = l
	}
	for i, x := range expectedFailures {
		if len(x.expect) == 0 {
			t.Errorf("mark %d has no expectation", i)
		}
		for _, e := range x.expect {
			if e.reason == "" || e.match == "" || !strings.HasPrefix(e.reason, "Server bug: ") && !strings.HasPrefix(e.reason, "Library limit: ") {
				t.Errorf("mark %d: an expectation needs a match and a reason that says whose failure it is: %+v", i, e)
			}
		}
		for _, alg := range x.algs {
			if !slices.Contains(serverAlgs, alg) {
				t.Errorf("mark %d names algorithm %q", i, alg)
			}
		}
		libs := x.libs
		if len(libs) == 0 {
			for _, l := range libraries {
				libs = append(libs, l.name)
			}
		}
		matched := 0
		for _, name := range libs {
			l, ok := byName[name]
			if !ok {
				t.Errorf("mark %d names library %q", i, name)
				continue
			}
			for _, sc := range x.scenarios {
				scenarioByID(sc) // panics on an unknown id
				if slices.Contains(l.scenarios, sc) {
					matched++
				} else if len(x.libs) > 0 {
					t.Errorf("mark %d: %s has no row %s", i, name, sc)
				}
			}
		}
		if len(x.scenarios) > 0 && matched == 0 {
			t.Errorf("mark %d matches no row", i)
		}
	}
}
