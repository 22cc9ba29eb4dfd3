package queries

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// projection says which properties of a room a reply holds.
type projection struct {
	// fields are the properties asked for; nil: every one but the extra
	// fields not asked for.
	fields map[string]bool
	extra  map[string]bool
	// hideLinks leaves out the URLs of the anonymous links (a caller whose
	// role lacks roomShareAccessLinks).
	hideLinks bool
}

// newProjection reads the comma-separated fields and extraFields of a
// request. Unknown names are dropped, as upstream drops them (its tests:
// "should not fail when extraFields has invalid values").
func newProjection(fields, extraFields string) projection {
	p := projection{fields: splitList(fields), extra: map[string]bool{}}
	for f := range splitList(extraFields) {
		if f == events.ExtraFieldConfig || f == events.ExtraFieldRoles {
			p.extra[f] = true
		}
	}
	return p
}

// splitList reads a comma-separated list; nil when it names nothing.
func splitList(s string) map[string]bool {
	var out map[string]bool
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[f] = true
	}
	return out
}

// wants reports whether the reply holds property name: with fields, the
// union of fields and extraFields (upstream's rule); without, every
// property but an extra field not in extraFields.
func (p projection) wants(name string) bool {
	if p.extra[name] {
		return true
	}
	if p.fields != nil {
		return p.fields[name]
	}
	return name != events.ExtraFieldConfig && name != events.ExtraFieldRoles
}

// hiddenLink is an anonymous link without its URL.
type hiddenLink struct {
	Enabled bool `json:"enabled"`
}

// accessView is Access with the anonymous links' URLs left out.
type accessView struct {
	Anonymous struct {
		Moderator hiddenLink `json:"moderator"`
		Speaker   hiddenLink `json:"speaker"`
		Recording hiddenLink `json:"recording"`
	} `json:"anonymous"`
	User events.Link `json:"user"`
}

// render writes the room as the reply shows it: the projected properties
// in the model's order, and with withExtra the _extraFields list.
func (p projection) render(b *bytes.Buffer, v *events.Room, withExtra bool) error {
	var access any = v.Access
	if p.hideLinks {
		var a accessView
		a.Anonymous.Moderator.Enabled = v.Access.Anonymous.Moderator.Enabled
		a.Anonymous.Speaker.Enabled = v.Access.Anonymous.Speaker.Enabled
		a.Anonymous.Recording.Enabled = v.Access.Anonymous.Recording.Enabled
		a.User = v.Access.User
		access = a
	}
	props := []struct {
		name  string
		value any
		omit  bool
	}{
		{"roomId", v.RoomID, false},
		{"roomName", v.RoomName, false},
		{"owner", v.Owner, false},
		{"creationDate", v.CreationDate, false},
		{"autoDeletionDate", v.AutoDeletionDate, v.AutoDeletionDate == nil},
		{"autoDeletionPolicy", v.AutoDeletionPolicy, v.AutoDeletionPolicy == nil},
		{"config", v.Config, false},
		{"roles", v.Roles, false},
		{"access", access, false},
		{"status", v.Status, false},
		{"rolesUpdatedAt", v.RolesUpdatedAt, false},
		{"meetingEndAction", v.MeetingEndAction, false},
	}
	b.WriteByte('{')
	n := 0
	for _, f := range props {
		if f.omit || !p.wants(f.name) {
			continue
		}
		raw, err := json.Marshal(f.value)
		if err != nil {
			return err
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteByte('"')
		b.WriteString(f.name)
		b.WriteString(`":`)
		b.Write(raw)
	}
	if withExtra {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extraFieldsJSON)
	}
	b.WriteByte('}')
	return nil
}

// extraFieldsJSON is the _extraFields member of every reply: the extra
// fields a caller may ask for (upstream's addResponseMetadata).
var extraFieldsJSON = func() string {
	raw, _ := json.Marshal(events.RoomExtraFields())
	return `"_extraFields":` + string(raw)
}()

// roomJSON is one room as a reply shows it.
func (p projection) roomJSON(r *store.Room, withExtra bool) (json.RawMessage, error) {
	v := r.View()
	var b bytes.Buffer
	if err := p.render(&b, &v, withExtra); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
