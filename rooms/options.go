package rooms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// This file merges the partial config, roles and access of a create or an
// update into a room's, as upstream does (lodash merge: absent fields keep
// their value), and checks what the JSON Schemas cannot.

// PermissionAliases maps each deprecated permission name of upstream's
// compatibility mode to the current names it stands for (upstream
// MEET_PERMISSION_ALIASES): canRetrieveRecordings was split into three.
var PermissionAliases = map[string][]string{
	"canRecord":                  {"recordingControl"},
	"canRetrieveRecordings":      {"recordingList", "recordingPlay", "recordingDownload"},
	"canDeleteRecordings":        {"recordingDelete"},
	"canJoinMeeting":             {"meetingJoin"},
	"canShareAccessLinks":        {"roomShareAccessLinks"},
	"canMakeModerator":           {"participantPromote"},
	"canKickParticipants":        {"participantKick"},
	"canEndMeeting":              {"meetingEnd"},
	"canPublishVideo":            {"mediaPublishVideo"},
	"canPublishAudio":            {"mediaPublishAudio"},
	"canShareScreen":             {"mediaShareScreen"},
	"canReadChat":                {"chatRead"},
	"canWriteChat":               {"chatWrite"},
	"canChangeVirtualBackground": {"mediaChangeVirtualBackground"},
}

// permissionNames are the current permission names.
var permissionNames = func() map[string]bool {
	raw, err := json.Marshal(events.Permissions{})
	if err != nil {
		panic(err)
	}
	var m map[string]bool
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	for k := range m {
		m[k] = true
	}
	return m
}()

// normalizePermissions turns permissions given under current or deprecated
// names into current names, as upstream's normalizePermissions does: a
// deprecated name sets every name it stands for, a current name given too
// wins. field names the permissions object in errors: an unknown name, or
// a deprecated name and one of its replacements with different values
// (upstream rejects the contradiction with a 422 citing both keys).
func normalizePermissions(field string, in map[string]bool) (map[string]bool, []events.FieldError) {
	var errs []events.FieldError
	out := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		if repl, ok := PermissionAliases[k]; ok {
			for _, r := range repl {
				if cur, ok := in[r]; ok && cur != v {
					errs = append(errs, events.FieldError{
						Field:   field + "." + k,
						Message: fmt.Sprintf("contradicts %s.%s: the deprecated name and its replacement must agree", field, r),
					})
				}
				if _, ok := in[r]; !ok {
					out[r] = v
				}
			}
			continue
		}
		if !permissionNames[k] {
			errs = append(errs, events.FieldError{Field: field + "." + k, Message: "is not a permission"})
			continue
		}
		out[k] = v
	}
	return out, errs
}

// applyPermissions sets the (normalised) permissions of set on p.
func applyPermissions(p events.Permissions, set map[string]bool) events.Permissions {
	if len(set) == 0 {
		return p
	}
	raw, err := json.Marshal(p)
	if err != nil {
		panic(err) // a struct of booleans always encodes
	}
	var m map[string]bool
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	maps.Copy(m, set)
	raw, err = json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var out events.Permissions
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// checkRoles checks the permission names of a partial roles object.
func checkRoles(field string, r *events.RolesOptions) []events.FieldError {
	if r == nil {
		return nil
	}
	var errs []events.FieldError
	if r.Moderator != nil {
		_, e := normalizePermissions(field+".moderator.permissions", r.Moderator.Permissions)
		errs = append(errs, e...)
	}
	if r.Speaker != nil {
		_, e := normalizePermissions(field+".speaker.permissions", r.Speaker.Permissions)
		errs = append(errs, e...)
	}
	return errs
}

// mergeRoles applies a checked partial roles object to roles.
func mergeRoles(roles events.Roles, r *events.RolesOptions) events.Roles {
	if r == nil {
		return roles
	}
	if r.Moderator != nil {
		set, _ := normalizePermissions("", r.Moderator.Permissions)
		roles.Moderator.Permissions = applyPermissions(roles.Moderator.Permissions, set)
	}
	if r.Speaker != nil {
		set, _ := normalizePermissions("", r.Speaker.Permissions)
		roles.Speaker.Permissions = applyPermissions(roles.Speaker.Permissions, set)
	}
	return roles
}

// checkAccess checks a partial access object: user access (Meet user
// accounts) is out of scope and may only be switched off.
func checkAccess(field string, a *events.AccessOptions) []events.FieldError {
	if a != nil && a.User != nil && a.User.Enabled {
		return []events.FieldError{{Field: field + ".user.enabled", Message: "must be false: user access (OpenVidu Meet user accounts) is not supported"}}
	}
	return nil
}

// mergeAccess applies a partial access object's switches to access; the
// URLs stay.
func mergeAccess(access events.Access, a *events.AccessOptions) events.Access {
	if a == nil {
		return access
	}
	if an := a.Anonymous; an != nil {
		if an.Moderator != nil {
			access.Anonymous.Moderator.Enabled = an.Moderator.Enabled
		}
		if an.Speaker != nil {
			access.Anonymous.Speaker.Enabled = an.Speaker.Enabled
		}
		if an.Recording != nil {
			access.Anonymous.Recording.Enabled = an.Recording.Enabled
		}
	}
	if a.User != nil {
		access.User.Enabled = a.User.Enabled
	}
	return access
}

// mergeConfig deep-merges a partial config into c (upstream: lodash merge
// of the stored config and the update), then turns recording off when
// e2ee is on, as upstream does. An encoding given replaces the whole
// encoding (a complete options object or a preset).
func mergeConfig(c events.Config, o *events.ConfigOptions) events.Config {
	if o != nil {
		setEnabled(&c.Chat, o.Chat)
		setEnabled(&c.VirtualBackground, o.VirtualBackground)
		setEnabled(&c.E2EE, o.E2EE)
		setEnabled(&c.Captions, o.Captions)
		if r := o.Recording; r != nil {
			if r.Enabled != nil {
				c.Recording.Enabled = *r.Enabled
			}
			if r.Layout != nil {
				c.Recording.Layout = *r.Layout
			}
			if len(r.Encoding) > 0 {
				c.Recording.Encoding = compactJSON(r.Encoding)
			}
		}
		if o.MaxParticipants.Set {
			c.MaxParticipants = o.MaxParticipants.Value
		}
		if o.MaxDurationMinutes.Set {
			c.MaxDurationMinutes = o.MaxDurationMinutes.Value
		}
	}
	if c.E2EE.Enabled {
		c.Recording.Enabled = false
	}
	return c
}

func setEnabled(dst *events.Enabled, o *events.EnabledOptions) {
	if o != nil && o.Enabled != nil {
		dst.Enabled = *o.Enabled
	}
}

// compactJSON is raw without insignificant whitespace (raw is valid JSON:
// the schema checked it).
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// checkAutoDeletion checks what the schema cannot: that autoDeletionDate
// lies at least minDelay after now.
func checkAutoDeletion(date *int64, now time.Time, minDelay time.Duration) []events.FieldError {
	if date == nil {
		return nil
	}
	if *date < now.Add(minDelay).UnixMilli() {
		return []events.FieldError{{
			Field:   "autoDeletionDate",
			Message: fmt.Sprintf("must be at least %s in the future (epoch milliseconds)", minDelay),
		}}
	}
	return nil
}

// autoDeletionPolicy is the policy of a room with an autoDeletionDate: the
// given one with its absent fields defaulted.
func autoDeletionPolicy(o *events.AutoDeletionPolicyOptions) *events.AutoDeletionPolicy {
	p := events.DefaultAutoDeletionPolicy()
	if o != nil {
		if o.WithMeeting != "" {
			p.WithMeeting = o.WithMeeting
		}
		if o.WithRecordings != "" {
			p.WithRecordings = o.WithRecordings
		}
	}
	return &p
}

// sortDetails orders field errors by field, then message.
func sortDetails(errs []events.FieldError) []events.FieldError {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Field != errs[j].Field {
			return errs[i].Field < errs[j].Field
		}
		return errs[i].Message < errs[j].Message
	})
	return errs
}
