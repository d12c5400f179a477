; XML and XSLT: XSLT templates and functions (by name or match), and elements with a name or id.
(element (STag (Name) @_tag (Attribute (Name) @_attr (AttValue) @name)) (#match? @_tag "^xsl:template$") (#eq? @_attr "name")) @definition.template
(element (STag (Name) @_tag (Attribute (Name) @_attr (AttValue) @name)) (#match? @_tag "^xsl:template$") (#eq? @_attr "match")) @definition.template
(element (STag (Name) @_tag (Attribute (Name) @_attr (AttValue) @name)) (#match? @_tag "^xsl:function$") (#eq? @_attr "name")) @definition.function
(element (STag (Attribute (Name) @_attr (AttValue) @name)) (#any-of? @_attr "name" "id")) @definition.element
(element (EmptyElemTag (Attribute (Name) @_attr (AttValue) @name)) (#any-of? @_attr "name" "id")) @definition.element
