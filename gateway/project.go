package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
)

// roomFields are the properties of a room (upstream MEET_ROOM_FIELDS), in
// the model's order.
var roomFields = []string{
	"roomId", "roomName", "owner", "creationDate", "autoDeletionDate", "autoDeletionPolicy",
	"config", "roles", "access", "status", "rolesUpdatedAt", "meetingEndAction",
}

// fieldLists merges the fields and extraFields query parameters with the
// X-Fields and X-ExtraFields headers as upstream does: the union of both
// lists, names that are not room fields (extra fields) dropped, so an
// invalid header value falls back to the query parameter. Empty: none
// asked for.
func fieldLists(r *http.Request) (fields, extraFields string) {
	q := r.URL.Query()
	fields = mergeList(roomFields, q["fields"], r.Header.Values("X-Fields"))
	extraFields = mergeList(events.RoomExtraFields(), q["extraFields"], r.Header.Values("X-ExtraFields"))
	return fields, extraFields
}

func mergeList(known []string, lists ...[]string) string {
	var out []string
	for _, l := range lists {
		for _, v := range l {
			for f := range strings.SplitSeq(v, ",") {
				f = strings.TrimSpace(f)
				if slices.Contains(known, f) && !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	return strings.Join(out, ",")
}

// projection is what a write result's room shows: with fields, the union
// of fields and extraFields; without, every property but the extra fields
// not asked for (upstream's applyHttpFieldFiltering).
type projection struct {
	fields, extra []string
}

func newProjection(fields, extraFields string) projection {
	var p projection
	if fields != "" {
		p.fields = strings.Split(fields, ",")
	}
	if extraFields != "" {
		p.extra = strings.Split(extraFields, ",")
	}
	return p
}

func (p projection) wants(name string) bool {
	if slices.Contains(p.extra, name) {
		return true
	}
	if p.fields != nil {
		return slices.Contains(p.fields, name)
	}
	return !slices.Contains(events.RoomExtraFields(), name)
}

// room renders a room (raw JSON of an events.Room) projected, with the
// _extraFields list upstream adds to every room it answers.
func (p projection) room(raw json.RawMessage) (json.RawMessage, error) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, name := range roomFields {
		v, ok := props[name]
		if !ok || !p.wants(name) {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + name + `":`)
		b.Write(v)
	}
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	b.WriteString(`"_extraFields":`)
	extra, _ := json.Marshal(events.RoomExtraFields())
	b.Write(extra)
	b.WriteByte('}')
	return b.Bytes(), nil
}
