package natsapi

// SetAfterSubscribe makes Result call f between its subscription and its
// read of the stored result.
func SetAfterSubscribe(c *Client, f func()) { c.afterSubscribe = f }
