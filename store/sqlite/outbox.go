package sqlite

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"

	"github.com/roomkeeper/roomkeeper/store"
)

// The outbox column holds a record's messages in a compact binary form
// (outboxV1), or, for records written by earlier versions, as a JSON array
// (outMsg). Every byte of a ledger record is written to the WAL and copied
// again by the checkpoint, so the record is kept small: no base64, and the
// result message, whose body is the record's result column, is not stored a
// second time.
//
// outboxV1: the byte 0x01, the number of messages, then per message a flags
// byte (flagResultBody: the body is the record's result), the subject, the
// message ID, the number of headers and each key and value (keys sorted),
// and the body unless flagged. Numbers are uvarints; strings and bodies a
// uvarint length and the bytes.
const (
	outboxV1       byte = 0x01
	flagResultBody byte = 1 << 0
)

// outMsg is the JSON form of an OutMsg in records written before outboxV1:
// its bytes base64 in Bytes, or inline JSON in Data (older still).
type outMsg struct {
	Subject string            `json:"subject"`
	MsgID   string            `json:"msgId"`
	Headers map[string]string `json:"headers,omitempty"`
	Data    json.RawMessage   `json:"data,omitempty"`
	Bytes   []byte            `json:"bytes,omitempty"`
}

// encodeOutbox encodes msgs for the outbox column (nil for none); a body
// equal to result is stored as a reference to it.
func encodeOutbox(msgs []store.OutMsg, result []byte) any {
	if len(msgs) == 0 {
		return nil
	}
	size := 1 + binary.MaxVarintLen32
	for _, m := range msgs {
		size += 3*binary.MaxVarintLen32 + 1 + len(m.Subject) + len(m.MsgID) + len(m.Data)
		for k, v := range m.Headers {
			size += 2*binary.MaxVarintLen32 + len(k) + len(v)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, outboxV1)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		ref := len(result) > 0 && bytes.Equal(m.Data, result)
		var flags byte
		if ref {
			flags |= flagResultBody
		}
		b = append(b, flags)
		b = appendString(b, m.Subject)
		b = appendString(b, m.MsgID)
		b = binary.AppendUvarint(b, uint64(len(m.Headers)))
		for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
			b = appendString(b, k)
			b = appendString(b, m.Headers[k])
		}
		if !ref {
			b = binary.AppendUvarint(b, uint64(len(m.Data)))
			b = append(b, m.Data...)
		}
	}
	return b
}

// decodeOutbox decodes the outbox column of a record whose result is
// result.
func decodeOutbox(b, result []byte) ([]store.OutMsg, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != outboxV1 {
		return decodeOutboxJSON(b)
	}
	d := outboxDecoder{b: b[1:]}
	n := d.uvarint()
	if n > uint64(len(b)) {
		return nil, errOutbox
	}
	msgs := make([]store.OutMsg, 0, n)
	for range n {
		var m store.OutMsg
		flags := d.byte()
		m.Subject = string(d.bytes())
		m.MsgID = string(d.bytes())
		if nh := d.uvarint(); nh > 0 && d.err == nil {
			if nh > uint64(len(d.b)) {
				return nil, errOutbox
			}
			m.Headers = make(map[string]string, nh)
			for range nh {
				k := string(d.bytes())
				m.Headers[k] = string(d.bytes())
			}
		}
		if flags&flagResultBody != 0 {
			m.Data = slices.Clone(result)
		} else {
			m.Data = slices.Clone(d.bytes())
		}
		if d.err != nil {
			return nil, d.err
		}
		msgs = append(msgs, m)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errOutbox
	}
	return msgs, nil
}

func decodeOutboxJSON(b []byte) ([]store.OutMsg, error) {
	var rows []outMsg
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, err
	}
	msgs := make([]store.OutMsg, len(rows))
	for i, r := range rows {
		msgs[i] = store.OutMsg{Subject: r.Subject, MsgID: r.MsgID, Headers: r.Headers, Data: r.Data}
		if r.Bytes != nil {
			msgs[i].Data = r.Bytes
		}
	}
	return msgs, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// outboxDecoder reads outboxV1 fields; the first error sticks.
type outboxDecoder struct {
	b   []byte
	err error
}

func (d *outboxDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errOutbox
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *outboxDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errOutbox
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *outboxDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errOutbox
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
