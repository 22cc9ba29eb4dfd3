package console

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
)

// roomsData is the rooms page: the filter as asked and one page of rooms.
type roomsData struct {
	Q, Status, Sort, Order string
	Rooms                  []events.Room
	Next                   string // the next page's URL, "" on the last
	Statuses               []string
	Sorts                  []string
}

func (c *Console) roomsPage(w http.ResponseWriter, r *http.Request, p *page) {
	q := r.URL.Query()
	d := roomsData{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Sort: q.Get("sort"), Order: q.Get("order"),
		Statuses: []string{events.StatusOpen, events.StatusActiveMeeting, events.StatusClosed},
		Sorts:    []string{"creationDate", "roomName", "autoDeletionDate"}}
	req := events.ListRequest{Status: d.Status, SortField: d.Sort, SortOrder: d.Order, MaxItems: 25, NextPageToken: q.Get("page")}
	if d.Q != "" {
		req.RoomName, req.RoomNameMatchMode, req.RoomNameCaseInsensitive = d.Q, events.MatchPartial, true
	}
	p.Title, p.Nav, p.Data = "Rooms", "rooms", &d
	ctx, cancel := c.ctx(r)
	defer cancel()
	reply, err := c.client.ListRooms(ctx, req)
	if err != nil {
		p.Error = "list rooms: " + err.Error()
		c.render(w, statusOf(err), "rooms", p)
		return
	}
	d.Rooms = reply.Rooms
	if reply.Pagination.IsTruncated && reply.Pagination.NextPageToken != "" {
		next := url.Values{"q": {d.Q}, "status": {d.Status}, "sort": {d.Sort}, "order": {d.Order}, "page": {reply.Pagination.NextPageToken}}
		d.Next = c.cfg.Prefix + "/rooms?" + next.Encode()
	}
	c.render(w, http.StatusOK, "rooms", p)
}

// commandID is a fresh command ID for a command the console sends.
func commandID() string { return "console-" + strings.ToLower(rand.Text()) }

func (c *Console) createRoom(w http.ResponseWriter, r *http.Request, p *page) {
	var req events.CreateRoom
	if name := strings.TrimSpace(r.PostFormValue("roomName")); name != "" {
		req.RoomName = &name
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	room, err := c.client.CreateRoom(ctx, commandID(), req)
	if err != nil {
		p.Title, p.Nav, p.Data = "Rooms", "rooms", &roomsData{}
		p.Error = "create room: " + err.Error()
		c.render(w, statusOf(err), "rooms", p)
		return
	}
	http.Redirect(w, r, c.cfg.Prefix+"/rooms/"+url.PathEscape(room.RoomID)+"?flash="+url.QueryEscape("Room created."), http.StatusSeeOther)
}

// roomData is the room page.
type roomData struct {
	Room                        *events.RoomReply
	MeetingPolicies, RecPolices []string
	// History is a page of the room's history (rooms.api.history), oldest
	// first; HistoryError says why it is missing.
	History      *events.HistoryReply
	HistoryError string
}

func (c *Console) roomPage(w http.ResponseWriter, r *http.Request, p *page) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	room, err := c.client.GetRoomWith(ctx, events.GetRequest{RoomID: r.PathValue("id"), ExtraFields: "config,roles"})
	p.Title, p.Nav = "Room "+r.PathValue("id"), "rooms"
	if err != nil {
		p.Error = "room " + r.PathValue("id") + ": " + err.Error()
		if status := statusOf(err); status == http.StatusNotFound {
			// A deleted room's history is still there: what happened to
			// it is what its page is asked for.
			h, herr := c.client.History(ctx, events.HistoryRequest{RoomID: r.PathValue("id"), MaxItems: historyPage,
				NextPageToken: r.URL.Query().Get("history")})
			if herr == nil { // not_found: no history either
				p.Data = &roomData{History: h}
			}
		}
		c.render(w, statusOf(err), "room", p)
		return
	}
	data := &roomData{Room: room,
		MeetingPolicies: []string{events.PolicyFail, events.PolicyForce, events.PolicyWhenMeetingEnds},
		RecPolices:      []string{events.PolicyFail, events.PolicyForce, events.PolicyClose},
	}
	data.History, err = c.client.History(ctx, events.HistoryRequest{RoomID: room.RoomID, MaxItems: historyPage,
		NextPageToken: r.URL.Query().Get("history")})
	if err != nil {
		data.HistoryError = err.Error()
	}
	p.Data = data
	c.render(w, http.StatusOK, "room", p)
}

// historyPage is how many steps of a room's history its page shows at once.
const historyPage = 50

func (c *Console) deleteRoom(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	ctx, cancel := c.ctx(r)
	defer cancel()
	res, err := c.client.DeleteRooms(ctx, commandID(), events.DeleteRooms{
		RoomIDs: []string{id}, WithMeeting: r.PostFormValue("withMeeting"), WithRecordings: r.PostFormValue("withRecordings"),
	})
	var msg string
	switch {
	case err != nil:
		msg = "delete " + id + ": " + err.Error()
	case len(res.Failed) > 0:
		msg = "delete " + id + ": " + res.Failed[0].Error + ": " + res.Failed[0].Message
	case len(res.Deleted) > 0:
		msg = res.Deleted[0].RoomID + ": " + res.Deleted[0].SuccessCode + " (" + res.Deleted[0].Message + ")"
	}
	if err != nil || len(res.Failed) > 0 {
		http.Redirect(w, r, c.cfg.Prefix+"/rooms/"+url.PathEscape(id)+"?flash="+url.QueryEscape(msg), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, c.cfg.Prefix+"/rooms?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}

// statusOf is the HTTP status of a failed call.
func statusOf(err error) int {
	var e *events.Error
	if errors.As(err, &e) {
		return events.HTTPStatus(e.Code)
	}
	return http.StatusBadGateway
}
