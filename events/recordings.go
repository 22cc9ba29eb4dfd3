package events

// Recording is a room's recording as other services see it (upstream
// MeetRecordingInfo, from the LiveKit egress that makes it): the data of
// rooms.events.recording_deleted.
type Recording struct {
	RecordingID string `json:"recordingId"`
	EgressID    string `json:"egressId"`
	RoomID      string `json:"roomId"`
	RoomName    string `json:"roomName,omitempty"`
	// Status: starting | active | ending | complete | failed | aborted |
	// limit_reached.
	Status   string `json:"status"`
	Filename string `json:"filename,omitempty"`
	// StartDate and EndDate are epoch ms, Duration seconds, Size bytes.
	StartDate *int64   `json:"startDate,omitempty"`
	EndDate   *int64   `json:"endDate,omitempty"`
	Duration  *float64 `json:"duration,omitempty"`
	Size      *int64   `json:"size,omitempty"`
	Error     string   `json:"error,omitempty"`
	Details   string   `json:"details,omitempty"`
}
