package handler

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// DecodeJSON validates body against the JSON Schema of subject and
// unmarshals it into M, matching property names exactly as the schema does
// (see [DecodeExact]). Bad input comes back as an *events.Error with code
// invalid_argument naming the field.
func DecodeJSON[M any](subject string, body []byte) (M, error) {
	var m M
	if err := schemas.ValidateCommand(subject, body); err != nil {
		if e, ok := events.AsError(err); ok {
			return m, e
		}
		return m, events.Invalid(err.Error())
	}
	if err := DecodeExact(body, &m); err != nil {
		return m, events.Invalid("malformed JSON", events.FieldError{Field: schemas.BodyField, Message: err.Error()})
	}
	return m, nil
}

// DecodeExact unmarshals body into v (a pointer) as json.Unmarshal does,
// except that an object property sets a struct field only when its name is
// the field's JSON name exactly. encoding/json also takes a name that
// differs in letter case ("ROOMNAME" for "roomName"), which JSON Schema
// takes for an unknown property and does not check: so a body the schema
// accepted could set fields to values it never validated. Such properties
// are dropped, as the schemas say unknown properties are.
func DecodeExact(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are written back as they came
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid data after the top-level value")
	}
	raw, err := json.Marshal(exactOnly(tree, reflect.TypeOf(v)))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// exactOnly returns the decoded JSON value v without the object properties
// that are not exactly the JSON name of a field of the struct they decode
// into (type t), at any depth.
func exactOnly(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return v // decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		fields := jsonFields(t)
		out := make(map[string]any, len(obj))
		for k, val := range obj {
			if ft, ok := fields[k]; ok {
				out[k] = exactOnly(val, ft)
			}
		}
		return out
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(obj))
		for k, val := range obj {
			out[k] = exactOnly(val, t.Elem())
		}
		return out
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(arr))
		for i, val := range arr {
			out[i] = exactOnly(val, t.Elem())
		}
		return out
	default:
		return v
	}
}

// fieldsCache holds jsonFields by struct type.
var fieldsCache sync.Map

// jsonFields maps the JSON names encoding/json gives a struct's fields to
// their types, with the fields of embedded structs (the outer one wins a
// name both have).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldsCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	for _, et := range embedded {
		for name, ft := range jsonFields(et) {
			if _, ok := out[name]; !ok {
				out[name] = ft
			}
		}
	}
	fieldsCache.Store(t, out)
	return out
}
