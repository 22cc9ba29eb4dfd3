package schemas

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/roomkeeper/roomkeeper/events"
)

// BodyField is the field of a detail about the whole body (malformed JSON,
// not an object).
const BodyField = "body"

// fieldErrors turns a validation error into one detail per failed keyword,
// naming the field as a user would ("preferences.recordingPreferences.enabled",
// "roomIds[0]"). Messages never quote the value at fault: it may be a secret.
func fieldErrors(err error, inst any) []events.FieldError {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []events.FieldError{{Field: BodyField, Message: "is invalid"}}
	}
	var out []events.FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leafErrors(e, inst)...)
	}
	walk(verr)
	if len(out) == 0 {
		out = append(out, events.FieldError{Field: BodyField, Message: "is invalid"})
	}
	slices.SortFunc(out, func(a, b events.FieldError) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(out)
}

func leafErrors(e *jsonschema.ValidationError, inst any) []events.FieldError {
	field := fieldName(e.InstanceLocation, inst)
	one := func(msg string) []events.FieldError {
		return []events.FieldError{{Field: field, Message: msg}}
	}
	child := func(props []string, msg string) []events.FieldError {
		out := make([]events.FieldError, 0, len(props))
		for _, p := range props {
			f := p
			if len(e.InstanceLocation) > 0 {
				f = field + "." + p
			}
			out = append(out, events.FieldError{Field: f, Message: msg})
		}
		return out
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		if len(e.InstanceLocation) == 0 && slices.Equal(k.Want, []string{"object"}) {
			return one("must be a JSON object")
		}
		return one(typeMessage(k.Want))
	case *kind.Required:
		return child(k.Missing, "is required")
	case *kind.AdditionalProperties:
		return child(k.Properties, "is not allowed")
	case *kind.MaxLength:
		return one(fmt.Sprintf("must be at most %d characters", k.Want))
	case *kind.MinLength:
		if k.Want == 1 {
			return one("must not be empty")
		}
		return one(fmt.Sprintf("must be at least %d characters", k.Want))
	case *kind.MinItems:
		if k.Want == 1 {
			return one("must hold at least one item")
		}
		return one(fmt.Sprintf("must hold at least %d items", k.Want))
	case *kind.MaxItems:
		return one(fmt.Sprintf("must hold at most %d items", k.Want))
	case *kind.Minimum:
		return one("must be at least " + ratString(k.Want))
	case *kind.Maximum:
		return one("must be at most " + ratString(k.Want))
	case *kind.ExclusiveMinimum:
		return one("must be greater than " + ratString(k.Want))
	case *kind.ExclusiveMaximum:
		return one("must be less than " + ratString(k.Want))
	case *kind.MultipleOf:
		return one("must be a multiple of " + ratString(k.Want))
	case *kind.Enum:
		return one("must be one of " + joinValues(k.Want))
	case *kind.Const:
		return one("must be " + joinValues([]any{k.Want}))
	case *kind.Pattern:
		return one("has an invalid format")
	case *kind.Format:
		return one("must be a valid " + k.Want)
	case *kind.UniqueItems:
		return one("must not hold duplicates")
	case *kind.FalseSchema, *kind.Not:
		return one("is not allowed")
	}
	return one("is invalid")
}

// fieldName renders an instance location: object keys joined with '.',
// array indexes in brackets, "body" for the root.
func fieldName(loc []string, inst any) string {
	if len(loc) == 0 {
		return BodyField
	}
	var sb strings.Builder
	cur := inst
	for _, tok := range loc {
		switch v := cur.(type) {
		case []any:
			sb.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		default:
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(tok)
			if m, ok := v.(map[string]any); ok {
				cur = m[tok]
			} else {
				cur = nil
			}
		}
	}
	return sb.String()
}

var typeNames = map[string]string{
	"string":  "a string",
	"integer": "an integer",
	"number":  "a number",
	"boolean": "a boolean",
	"array":   "an array",
	"object":  "an object",
	"null":    "null",
}

func typeMessage(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = cmp.Or(typeNames[w], w)
	}
	return "must be " + strings.Join(names, " or ")
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func joinValues(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}
