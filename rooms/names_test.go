package rooms_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/rooms"
)

// The cases of upstream's "Room Name Sanitization Tests".
func TestRoomIDPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"Reunión de Niños", "reunion_de_ninos"},
		{"Über Größe Äpfel", "uber_groe_apfel"},
		{"Café Crème à la française", "cafe_creme_a_la_francaise"},
		{"MYROOM", "myroom"},
		{"MyRoom Test", "myroom_test"},
		{"my-room-name", "my_room_name"},
		{"my room name", "my_room_name"},
		{"my    room     name", "my_room_name"},
		{"room@#$%name!", "roomname"},
		{"room 🎉 party 🥳", "room_party"},
		{"__room__", "room"},
		{"--room--", "room"},
		{"room---__--name", "room_name"},
		{"Room 2024 v1", "room_2024_v1"},
		{"  --Héllo World! 123__--  ", "hello_world_123"},
		{"Reunião São João", "reuniao_sao_joao"},
		{"Møde på Østerbro", "mde_pa_sterbro"},
		{"会议室", "room"},
		{"@#$%^&*()", "room"},
		{"🎉🥳🎊", "room"},
		{"", "room"},
	} {
		require.Equal(t, tc.want, rooms.RoomIDPrefix(tc.name), "name %q", tc.name)
	}
}

func TestCleanRoomName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Reunión de Niños 🎉", rooms.CleanRoomName("  Reunión \t de\n\nNiños   🎉 "), "characters kept, whitespace collapsed")
	require.Equal(t, "", rooms.CleanRoomName(" \t "))
}

func TestCleanRoomID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "my_room-abc", rooms.CleanRoomID(" my_room-abc$ "))
	require.Equal(t, "a__b--c", rooms.CleanRoomID("a__b--c"), "runs kept: only invalid characters go")
	require.Equal(t, "", rooms.CleanRoomID("!@#"))
}
