package outhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// stringify rewrites the JSON document raw as JavaScript's JSON.stringify
// writes it once parsed: members in their order, no spaces, and strings
// escaped as ECMAScript escapes them (", \ and the control characters
// only), where Go's encoder also escapes <, >, & and U+2028/U+2029.
// Upstream signs JSON.stringify(payload), and receivers written for it
// verify over JSON.stringify(req.body): a room named "Q&A" sent as
// "Q\u0026A" fails their check. Numbers are kept as written (Go writes
// float64 as ECMAScript does).
func stringify(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := stringifyValue(dec, &b); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("stringify: data after the value")
	}
	return b.Bytes(), nil
}

func stringifyValue(dec *json.Decoder, b *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("stringify: %w", err)
	}
	switch v := tok.(type) {
	case json.Delim:
		open, end := byte(v), byte(']')
		if v == '{' {
			end = '}'
		}
		b.WriteByte(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			if open == '{' {
				key, err := dec.Token()
				if err != nil {
					return fmt.Errorf("stringify: %w", err)
				}
				writeJSString(b, key.(string))
				b.WriteByte(':')
			}
			if err := stringifyValue(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return fmt.Errorf("stringify: %w", err)
		}
		b.WriteByte(end)
	case string:
		writeJSString(b, v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	}
	return nil
}

// writeJSString writes s quoted as ECMAScript's JSON.stringify quotes it.
func writeJSString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s { // the decoder made s valid UTF-8
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
