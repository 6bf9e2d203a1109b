package dpop

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// normalizeHTTPURI returns the form in which an htu claim and a request's
// URI are compared (RFC 9449 §4.3 item 9: without query and fragment;
// RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based normalization, as
// RFC 9449 recommends):
//
//   - the scheme must be http or https and is lowercased;
//   - the URI must have a host and no userinfo (RFC 9110 §4.2.4);
//   - the host is lowercased (reg-names are compared as ASCII, with no
//     IDNA mapping), IPv6 literals keep their brackets;
//   - the port is dropped when empty or the scheme's default (80, 443),
//     and otherwise written in decimal without leading zeros;
//   - in the path, percent-encoded unreserved characters (letters,
//     digits, '-', '.', '_', '~') are decoded, other percent-encodings get
//     uppercase hex digits, "." and ".." segments are removed (RFC 3986 §5.2.4), and an
//     empty path becomes "/";
//   - the query and the fragment are dropped.
//
// Nothing else is equivalent: a trailing slash, a doubled slash or an
// encoded "/" (%2F) makes another URI.
func normalizeHTTPURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URI")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("not an http or https URI")
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errors.New("not an absolute URI with a host and no userinfo")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("empty host")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return "", errors.New("invalid port")
		}
		if !(u.Scheme == "http" && port == 80 || u.Scheme == "https" && port == 443) {
			host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.FormatUint(port, 10))
		}
	}
	path := removeDotSegments(normalizePercentEncoding(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	return u.Scheme + "://" + host + path, nil
}

// normalizePercentEncoding decodes percent-encoded unreserved characters
// and uppercases the hex digits of the other percent-encodings (RFC 3986
// §6.2.2.1, §6.2.2.2). A '%' not followed by two hex digits is kept.
func normalizePercentEncoding(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(p[i])
			continue
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	return b.String()
}

// removeDotSegments is RFC 3986 §5.2.4's algorithm on an absolute path.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string
	segments := strings.Split(in, "/")
	for i, s := range segments {
		last := i == len(segments)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3).
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
