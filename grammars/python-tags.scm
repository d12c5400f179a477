; Python: functions (sync and async), classes. Methods are functions whose parent is a class.
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function
