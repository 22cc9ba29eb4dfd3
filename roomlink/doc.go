// Package roomlink answers the room links roomkeeper hands out
// (BASE_URL/room/<roomId>?secret=…, BASE_URL/room/<roomId>/recordings?secret=…)
// when they reach roomkeeper itself instead of the Meet frontend: a small
// HTML page with the room's name and the role the secret gives, and a
// "join" link that hands over to the frontend at BASE_URL. An unknown room
// or secret gets a 404 page. It reads rooms through the rooms.api.*
// queries (natsapi.Client), so it runs in any role that serves HTTP.
package roomlink
