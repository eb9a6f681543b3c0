// Package directory reads keydesk's users from Active Directory or
// OpenLDAP: it checks a password with a bind (for RADIUS password+otp and
// challenge modes), finds a user's groups (for Filter-Id and Class), lists
// the members of the scope group, and plans a sync. It changes nothing in
// keydesk: the desk applies what it finds.
//
// A [Client] keeps two pools of open connections: one bound as the
// service account, for searches; one for users' binds, which never
// searches. A login then costs two round trips, a search and a bind.
// Every call of the login path answers within the configured Timeout
// (3 s by default), connecting included: a VPN gives up after about 5 s.
//
// What the directory sends is outside data: every user entry is checked
// (bounded, UTF-8, no control characters, ids in their format) and
// refused whole, with its DN and attribute, when it does not fit.
package directory
