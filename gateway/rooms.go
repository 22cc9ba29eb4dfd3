package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
)

// POST /rooms: rooms.cmd.create; 201 with Location and the room,
// projected by X-Fields / X-ExtraFields.
func (g *Gateway) createRoom(w http.ResponseWriter, r *http.Request, _ *member) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	id, ok := commandID(w, r)
	if !ok {
		return
	}
	res, ok := g.command(w, r, id, events.SubjectCreate, body, nil)
	if !ok {
		return
	}
	var room struct {
		RoomID string `json:"roomId"`
	}
	_ = json.Unmarshal(res.Data, &room)
	out, err := newProjection(fieldLists(r)).room(res.Data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
		return
	}
	if room.RoomID != "" {
		w.Header().Set("Location", Prefix+"rooms/"+url.PathEscape(room.RoomID))
	}
	writeRaw(w, status(res), out)
}

// GET /rooms: rooms.api.list with the query parameters as fields.
func (g *Gateway) listRooms(w http.ResponseWriter, r *http.Request, _ *member) {
	q := r.URL.Query()
	req := map[string]any{}
	var bad []events.FieldError
	for _, name := range []string{"roomName", "roomNameMatchMode", "status", "nextPageToken", "sortField", "sortOrder"} {
		if v := q.Get(name); v != "" {
			req[name] = v
		}
	}
	for _, name := range []string{"owner", "member"} { // present but empty is upstream's 422
		if q.Has(name) {
			req[name] = q.Get(name)
		}
	}
	for _, name := range []string{"roomNameCaseInsensitive", "userAccess"} {
		if !q.Has(name) {
			continue
		}
		b, err := strconv.ParseBool(q.Get(name))
		if err != nil || (q.Get(name) != "true" && q.Get(name) != "false") {
			bad = append(bad, events.FieldError{Field: name, Message: "Expected boolean, received " + strconv.Quote(q.Get(name))})
			continue
		}
		req[name] = b
	}
	if q.Has("maxItems") {
		f, err := strconv.ParseFloat(q.Get("maxItems"), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			bad = append(bad, events.FieldError{Field: "maxItems", Message: "Expected number, received " + strconv.Quote(q.Get("maxItems"))})
		} else {
			req["maxItems"] = f
		}
	}
	if len(bad) > 0 {
		invalid(w, bad...)
		return
	}
	if fields, extra := fieldLists(r); fields != "" || extra != "" {
		req["fields"], req["extraFields"] = fields, extra
	}
	if reply, ok := g.query(w, r, events.APIList, req); ok {
		writeRaw(w, http.StatusOK, reply)
	}
}

// GET /rooms/{roomId}: rooms.api.get (as the member of a secret).
func (g *Gateway) getRoom(w http.ResponseWriter, r *http.Request, m *member) {
	req := events.GetRequest{RoomID: r.PathValue("roomId")}
	req.Fields, req.ExtraFields = fieldLists(r)
	if m != nil {
		req.Secret = m.secret
	}
	if reply, ok := g.query(w, r, events.APIGet, req); ok {
		writeRaw(w, http.StatusOK, reply)
	}
}

// GET /rooms/{roomId}/config: rooms.api.config; a member's secret is
// checked first (rooms.api.role).
func (g *Gateway) getConfig(w http.ResponseWriter, r *http.Request, m *member) {
	roomID := r.PathValue("roomId")
	if m != nil {
		if _, ok := g.query(w, r, events.APIRole, events.SecretRequest{RoomID: roomID, Secret: m.secret}); !ok {
			return
		}
	}
	if reply, ok := g.query(w, r, events.APIConfig, events.ConfigRequest{RoomID: roomID}); ok {
		writeRaw(w, http.StatusOK, reply)
	}
}

// deleteRequest reads the deletion policies of the query.
func deleteRequest(r *http.Request, ids []string) events.DeleteRooms {
	q := r.URL.Query()
	return events.DeleteRooms{RoomIDs: ids, WithMeeting: q.Get("withMeeting"), WithRecordings: q.Get("withRecordings")}
}

// projectDeleted projects the room of every processed room of a delete.
func projectDeleted(r *http.Request, data json.RawMessage) (*deleteBody, error) {
	var body deleteBody
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	p := newProjection(fieldLists(r))
	for i := range body.Deleted {
		if body.Deleted[i].Room == nil {
			continue
		}
		room, err := p.room(body.Deleted[i].Room)
		if err != nil {
			return nil, err
		}
		body.Deleted[i].Room = room
	}
	return &body, nil
}

// deleteBody is events.DeleteResult with the rooms kept raw.
type deleteBody struct {
	Message string        `json:"message,omitempty"`
	Deleted []deletedRoom `json:"deleted"`
	Failed  []failedRoom  `json:"failed"`
}

type deletedRoom struct {
	RoomID      string          `json:"roomId"`
	SuccessCode string          `json:"successCode"`
	Message     string          `json:"message"`
	Room        json.RawMessage `json:"room,omitempty"`
}

type failedRoom = events.FailedRoom

// DELETE /rooms: rooms.cmd.delete with the comma-separated roomIds; 200,
// or 400 when some failed, with upstream's bulk body.
func (g *Gateway) bulkDelete(w http.ResponseWriter, r *http.Request, _ *member) {
	ids := []string{}
	for _, v := range r.URL.Query()["roomIds"] {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	id, ok := commandID(w, r)
	if !ok {
		return
	}
	res, ok := g.command(w, r, id, events.SubjectDelete, deleteRequest(r, ids), nil)
	if !ok {
		return
	}
	body, err := projectDeleted(r, res.Data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
		return
	}
	writeJSON(w, status(res), body)
}

// DELETE /rooms/{roomId}: rooms.cmd.delete with one ID; 200 or 202 with
// {successCode, message, room?}, or the failure: 404 for a room that does
// not exist, 409 when a policy refuses.
func (g *Gateway) deleteRoom(w http.ResponseWriter, r *http.Request, _ *member) {
	id, ok := commandID(w, r)
	if !ok {
		return
	}
	res, ok := g.command(w, r, id, events.SubjectDelete, deleteRequest(r, []string{r.PathValue("roomId")}), oneRoomField)
	if !ok {
		return
	}
	body, err := projectDeleted(r, res.Data)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
	case len(body.Failed) > 0:
		f := body.Failed[0]
		code := http.StatusConflict
		if f.Error == events.DeleteErrorRoom {
			code = http.StatusNotFound
		}
		writeError(w, code, f.Error, f.Message)
	case len(body.Deleted) > 0:
		d := body.Deleted[0]
		writeJSON(w, status(res), struct {
			SuccessCode string          `json:"successCode"`
			Message     string          `json:"message"`
			Room        json.RawMessage `json:"room,omitempty"`
		}{d.SuccessCode, d.Message, d.Room})
	default:
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
	}
}

// oneRoomField names the field of a DELETE /rooms/{roomId} error as the
// request has it: the command's roomIds (its one item) is the path's
// roomId.
func oneRoomField(f string) string {
	if f == "roomIds" || strings.HasPrefix(f, "roomIds[") {
		return "roomId"
	}
	return f
}

// update returns the handler of PUT /rooms/{roomId}/<property>: the
// body ({<property>: ...}) with the roomId is the command; the result's
// data (the room's new config, roles or access) is the response.
func (g *Gateway) update(subject string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *member) {
		res, ok := g.updateCommand(w, r, subject)
		if ok {
			writeRaw(w, status(res), res.Data)
		}
	}
}

func (g *Gateway) updateCommand(w http.ResponseWriter, r *http.Request, subject string) (*events.Result, bool) {
	body, ok := g.readBody(w, r)
	if !ok {
		return nil, false
	}
	id, ok := commandID(w, r)
	if !ok {
		return nil, false
	}
	roomID, _ := json.Marshal(r.PathValue("roomId"))
	body["roomId"] = roomID
	return g.command(w, r, id, subject, body, nil)
}

// PUT /rooms/{roomId}/status: 200, or 202 when the closure waits for the
// meeting's end, with the room projected.
func (g *Gateway) updateStatus(w http.ResponseWriter, r *http.Request, _ *member) {
	res, ok := g.updateCommand(w, r, events.SubjectUpdateStatus)
	if !ok {
		return
	}
	out, err := newProjection(fieldLists(r)).room(res.Data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
		return
	}
	writeRaw(w, status(res), out)
}
