; SCSS: the CSS patterns plus mixins, functions and $variables.
(mixin_statement name: (identifier) @name) @definition.mixin
(function_statement name: (identifier) @name) @definition.function
(keyframes_statement (keyframes_name) @name) @definition.keyframes
(rule_set (selectors) @name) @definition.rule
(declaration (property_name) @name (#match? @name "^(--|\\$)")) @definition.variable
