package sqlite

// QRoomHistory is RoomHistory's statement, for its query plan.
const QRoomHistory = qRoomHistory
