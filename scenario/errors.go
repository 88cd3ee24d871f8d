package scenario

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a scenario file.
type Problem struct {
	File   string // the path given to Load or Parse
	Line   int    // 1-based line
	Column int    // 1-based column; 0 when unknown
	Msg    string // what is wrong and what would be valid
}

// String formats p as "file:line:col: message" (":col" is left out when
// the column is unknown, "line:col:" when the line is).
func (p Problem) String() string {
	switch {
	case p.Line <= 0:
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	case p.Column <= 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Msg)
	}
}

// Errors is every problem found in a scenario file, in file order. Load
// and Parse return a *Errors when the file is not a valid scenario; use
// errors.As to get at the problems.
type Errors []Problem

// Error returns one line per problem, "file:line:col: message", joined by
// newlines.
func (e *Errors) Error() string {
	if e == nil || len(*e) == 0 {
		return "no problems"
	}
	lines := make([]string, len(*e))
	for i, p := range *e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by position, keeping the order in which
// problems at the same position were found.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}

// maxSuggestLen bounds the words closest compares, so that a huge key
// cannot make suggestions slow.
const maxSuggestLen = 100

// closest returns the option nearest to word by edit distance, or "" when
// none is near enough to be a likely typo.
func closest(word string, options []string) string {
	if len(word) > maxSuggestLen {
		return ""
	}
	lw := strings.ToLower(word)
	best, bestDist := "", -1
	for _, o := range options {
		d := editDistance(lw, strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	if bestDist < 0 {
		return ""
	}
	limit := len([]rune(lw)) / 3
	if limit < 2 {
		limit = 2
	}
	if bestDist > limit || bestDist >= len([]rune(lw)) {
		return ""
	}
	return best
}

// didYouMean returns ` (did you mean "x"?)` for the option closest to word,
// or "".
func didYouMean(word string, options []string) string {
	if c := closest(word, options); c != "" && c != word {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// quoteList formats options as "a, b, c".
func quoteList(options []string) string {
	return strings.Join(options, ", ")
}
