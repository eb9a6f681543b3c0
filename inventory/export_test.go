package inventory

// Migrations is the schema version a fresh inventory ends at, for the
// tests in package inventory_test.
var Migrations = len(migrations)

// ApplicationID is the SQLite application_id of an inventory.
const ApplicationID = applicationID
