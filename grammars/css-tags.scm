; CSS: rule sets (by selector), keyframes, custom properties (--var).
(keyframes_statement (keyframes_name) @name) @definition.keyframes
(rule_set (selectors) @name) @definition.rule
(declaration (property_name) @name (#match? @name "^--")) @definition.variable
