-- only
/* comments */
;;
