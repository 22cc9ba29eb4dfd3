package benchkit

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Op is one kind of command of a benchmark.
type Op int

// The commands a benchmark sends.
const (
	OpCreate Op = iota
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "op" + strconv.Itoa(int(o))
}

// Mix gives the weight of each command kind. Updates and deletes act on
// rooms the same run created (and not yet deleted); when there is none, a
// create is sent instead.
type Mix struct {
	Create, Update, Delete int
}

// CreateOnly is the default mix: creates only.
var CreateOnly = Mix{Create: 1}

// ParseMix reads "create=2,update=1,delete=1" (kinds left out weigh 0);
// the empty string is CreateOnly.
func ParseMix(s string) (Mix, error) {
	if strings.TrimSpace(s) == "" {
		return CreateOnly, nil
	}
	var m Mix
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		w := 1
		if ok {
			var err error
			if w, err = strconv.Atoi(val); err != nil || w < 0 {
				return Mix{}, fmt.Errorf("mix %q: weight of %s must be a whole number ≥ 0", s, name)
			}
		}
		switch name {
		case "create":
			m.Create = w
		case "update", "update_preferences":
			m.Update = w
		case "delete":
			m.Delete = w
		default:
			return Mix{}, fmt.Errorf("mix %q: unknown command %q (create, update, delete)", s, name)
		}
	}
	if m.Create == 0 {
		return Mix{}, fmt.Errorf("mix %q: create needs a weight above 0 (updates and deletes act on created rooms)", s)
	}
	return m, nil
}

func (m Mix) String() string {
	return fmt.Sprintf("create=%d,update=%d,delete=%d", m.Create, m.Update, m.Delete)
}

// picker draws the kind of each command from the mix, reproducibly.
type picker struct {
	m   Mix
	rnd *rand.Rand
}

func newPicker(m Mix) *picker {
	if m.Create+m.Update+m.Delete == 0 {
		m = CreateOnly
	}
	return &picker{m: m, rnd: rand.New(rand.NewPCG(1, 2))}
}

func (p *picker) next() Op {
	n := p.rnd.IntN(p.m.Create + p.m.Update + p.m.Delete)
	switch {
	case n < p.m.Create:
		return OpCreate
	case n < p.m.Create+p.m.Update:
		return OpUpdate
	default:
		return OpDelete
	}
}

// roomPool holds the rooms created and free for an update or a delete.
// Callers hold the lock of whoever owns it.
type roomPool struct{ ids []string }

func (p *roomPool) put(id string) { p.ids = append(p.ids, id) }

// take removes and returns a room, the most recent first; "" when empty.
func (p *roomPool) take() string {
	if len(p.ids) == 0 {
		return ""
	}
	id := p.ids[len(p.ids)-1]
	p.ids = p.ids[:len(p.ids)-1]
	return id
}

// nextOp picks the next operation and, for an update or delete, the room it
// acts on; with no room to take it falls back to a create.
func nextOp(pick *picker, pool *roomPool) (Op, string) {
	op := pick.next()
	if op == OpCreate {
		return op, ""
	}
	if roomID := pool.take(); roomID != "" {
		return op, roomID
	}
	return OpCreate, ""
}
