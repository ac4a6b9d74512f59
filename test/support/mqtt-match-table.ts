/**
 * The filter-matching examples of the MQTT specification (3.1.1 and 5.0, section 4.7), as a table
 * that both the pairwise matcher and the trie are tested against.
 */
export const MQTT_MATCH_TABLE: Array<[filter: string, topic: string, matches: boolean]> = [
  // 4.7.1.2 Multi-level wildcard
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis/player1', true],
  ['#', '/finance', true],
  // 4.7.1.3 Single-level wildcard
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'finance', true],
  ['+/tennis/#', 'sport/tennis/player1/ranking', true],
  ['sport/+/player1', 'sport/tennis/player1', true],
  // 4.7.2 Topics beginning with $
  ['#', '$SYS/monitor/Clients', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  // 4.7.3 Topic semantic and usage: case-sensitive, a leading / makes a distinct topic
  ['ACCOUNTS', 'Accounts', false],
  ['Accounts payable', 'Accounts payable', true],
  ['/finance', 'finance', false],
  ['finance', '/finance', false],
];

